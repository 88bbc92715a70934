package io.quotagate.active;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A label selector in the syntax kubectl and the apiserver accept (k8s.io/apimachinery/pkg/labels {@code Parse}):
 * requirements separated by commas, each {@code key}, {@code !key}, {@code key=value}, {@code key==value},
 * {@code key!=value}, {@code key in (a,b)}, {@code key notin (a,b)}, {@code key>1} or {@code key<1}. All must hold.
 *
 * <p>The informer sends the selector to the apiserver, which filters; matching here again is for the objects this
 * process created (they count before the informer delivers them only if they match) and guards against a server that
 * ignores part of a selector.
 */
public final class LabelSelector {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?");
    private static final Pattern PREFIX = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
    private static final Pattern VALUE = Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");

    enum Op { EXISTS, NOT_EXISTS, EQUALS, NOT_EQUALS, IN, NOT_IN, GT, LT }

    record Requirement(String key, Op op, Set<String> values) {
        boolean matches(Map<String, String> labels) {
            String v = labels.get(key);
            return switch (op) {
                case EXISTS -> v != null;
                case NOT_EXISTS -> v == null;
                case EQUALS, IN -> v != null && values.contains(v);
                case NOT_EQUALS, NOT_IN -> v == null || !values.contains(v);
                case GT, LT -> v != null && compare(v, values.iterator().next());
            };
        }

        private boolean compare(String label, String bound) {
            try {
                long l = Long.parseLong(label);
                long b = Long.parseLong(bound);
                return op == Op.GT ? l > b : l < b;
            } catch (NumberFormatException e) {
                return false;
            }
        }
    }

    private final String text;
    private final List<Requirement> requirements;

    private LabelSelector(String text, List<Requirement> requirements) {
        this.text = text;
        this.requirements = requirements;
    }

    /**
     * @param text the selector; empty selects everything
     * @throws IllegalArgumentException naming what is wrong
     */
    public static LabelSelector parse(String text) {
        String s = text == null ? "" : text.trim();
        List<Requirement> requirements = new ArrayList<>();
        for (String part : split(s)) {
            requirements.add(requirement(part.trim(), s));
        }
        return new LabelSelector(s, List.copyOf(requirements));
    }

    /** True when every requirement holds for these labels (null: none). */
    public boolean matches(Map<String, String> labels) {
        Map<String, String> l = labels == null ? Map.of() : labels;
        for (Requirement r : requirements) {
            if (!r.matches(l)) {
                return false;
            }
        }
        return true;
    }

    public boolean isEmpty() {
        return requirements.isEmpty();
    }

    @Override
    public String toString() {
        return text;
    }

    /** Splits at the commas that are not inside a value set's parentheses. */
    private static List<String> split(String s) {
        List<String> parts = new ArrayList<>();
        if (s.isEmpty()) {
            return parts;
        }
        int depth = 0;
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            } else if (c == ',' && depth == 0) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(s.substring(start));
        return parts;
    }

    private static Requirement requirement(String part, String whole) {
        if (part.isEmpty()) {
            throw invalid(whole, "an empty requirement");
        }
        if (part.startsWith("!")) {
            return new Requirement(key(part.substring(1).trim(), whole), Op.NOT_EXISTS, Set.of());
        }
        String[] words = part.split("\\s+", 2);
        if (words.length == 2 && !words[0].contains("=") && !words[0].contains("<") && !words[0].contains(">")) {
            String rest = words[1].trim();
            if (rest.startsWith("in ") || rest.startsWith("in(") || rest.startsWith("notin ") || rest.startsWith("notin(")) {
                boolean in = rest.startsWith("in");
                String set = rest.substring(in ? 2 : 5).trim();
                if (!set.startsWith("(") || !set.endsWith(")")) {
                    throw invalid(whole, "'" + part + "': a value set must be in parentheses");
                }
                Set<String> values = new java.util.LinkedHashSet<>();
                for (String v : set.substring(1, set.length() - 1).split(",", -1)) {
                    values.add(value(v.trim(), whole));
                }
                return new Requirement(key(words[0], whole), in ? Op.IN : Op.NOT_IN, Set.copyOf(values));
            }
        }
        for (String[] op : new String[][] {{"!=", "NOT_EQUALS"}, {"==", "EQUALS"}, {"=", "EQUALS"}, {">", "GT"},
                {"<", "LT"}}) {
            int at = part.indexOf(op[0]);
            if (at >= 0) {
                String key = key(part.substring(0, at).trim(), whole);
                String value = value(part.substring(at + op[0].length()).trim(), whole);
                Op o = Op.valueOf(op[1]);
                if ((o == Op.GT || o == Op.LT) && !value.matches("[0-9]+")) {
                    throw invalid(whole, "'" + part + "': > and < compare with an integer");
                }
                return new Requirement(key, o, Set.of(value));
            }
        }
        return new Requirement(key(part, whole), Op.EXISTS, Set.of());
    }

    private static String key(String key, String whole) {
        int slash = key.indexOf('/');
        String prefix = slash < 0 ? null : key.substring(0, slash);
        String name = slash < 0 ? key : key.substring(slash + 1);
        if (!NAME.matcher(name).matches() || (prefix != null && !PREFIX.matcher(prefix).matches())) {
            throw invalid(whole, "'" + key + "' is not a label key");
        }
        return key;
    }

    private static String value(String value, String whole) {
        if (!VALUE.matcher(value).matches()) {
            throw invalid(whole, "'" + value + "' is not a label value");
        }
        return value;
    }

    private static IllegalArgumentException invalid(String whole, String problem) {
        return new IllegalArgumentException("label selector \"" + whole + "\": " + problem);
    }
}
