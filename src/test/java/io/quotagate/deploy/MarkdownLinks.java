package io.quotagate.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The relative links of Markdown files and whether they resolve: the target file (or folder) must exist
 * inside the repository, and an anchor into a Markdown file must name one of its headings, slugged the
 * way GitHub renders them. Links in code (fenced blocks, inline code) and in HTML comments are not links.
 */
final class MarkdownLinks {

    private static final Pattern FENCE = Pattern.compile("(?m)^(```|~~~)");
    private static final Pattern COMMENT = Pattern.compile("(?s)<!--.*?-->");
    private static final Pattern CODE_SPAN = Pattern.compile("(`+)(?s).+?\\1");
    /** [text](target) and ![alt](target); the target ends at whitespace (a title may follow) or ")". */
    private static final Pattern INLINE = Pattern.compile("!?\\[(?:[^\\]\\\\]|\\\\.)*]\\(\\s*<?([^)\\s>]*)>?(?:\\s+\"[^\"]*\")?\\s*\\)");
    /** [label]: target */
    private static final Pattern REFERENCE = Pattern.compile("(?m)^ {0,3}\\[[^\\]]+]:\\s*<?(\\S+?)>?(?:\\s.*)?$");
    private static final Pattern HEADING = Pattern.compile("(?m)^ {0,3}#{1,6}\\s+(.*?)(?:\\s+#+)?\\s*$");
    private static final Pattern SCHEME = Pattern.compile("^[a-zA-Z][a-zA-Z0-9+.-]*:");

    private final Path root;
    private final Map<Path, Set<String>> anchors = new HashMap<>();

    MarkdownLinks(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /** One line per link of {@code file} that does not resolve: "file: target (why)". */
    List<String> broken(Path file) {
        Path source = file.toAbsolutePath().normalize();
        List<String> problems = new ArrayList<>();
        for (String target : links(read(source))) {
            String why = check(source, target);
            if (why != null) {
                problems.add(root.relativize(source) + ": " + target + " (" + why + ")");
            }
        }
        return problems;
    }

    private String check(Path source, String target) {
        if (target.isEmpty() || SCHEME.matcher(target).find() || target.startsWith("//")) {
            return null; // absolute URLs (https:, mailto:) are not checked here
        }
        int hash = target.indexOf('#');
        String path = hash < 0 ? target : target.substring(0, hash);
        String anchor = hash < 0 ? null : target.substring(hash + 1);
        Path resolved = path.isEmpty() ? source : source.getParent().resolve(decode(path)).normalize();
        if (!resolved.startsWith(root)) {
            return "outside the repository";
        }
        if (!Files.exists(resolved)) {
            return "no such file";
        }
        if (anchor != null && !anchor.isEmpty() && resolved.toString().endsWith(".md")
                && !anchorsOf(resolved).contains(decode(anchor))) {
            return "no heading with anchor #" + anchor + " in " + root.relativize(resolved);
        }
        return null;
    }

    private Set<String> anchorsOf(Path markdown) {
        return anchors.computeIfAbsent(markdown, m -> {
            Set<String> slugs = new LinkedHashSet<>();
            Map<String, Integer> seen = new HashMap<>();
            Matcher heading = HEADING.matcher(prose(read(m)));
            while (heading.find()) {
                String slug = slug(heading.group(1));
                int n = seen.merge(slug, 1, Integer::sum) - 1;
                slugs.add(n == 0 ? slug : slug + "-" + n);
            }
            return slugs;
        });
    }

    /** GitHub's heading anchor: the text without markup, lower case, only letters, digits, "-", "_" and spaces → "-". */
    static String slug(String heading) {
        String text = heading.replaceAll("!?\\[([^\\]]*)]\\([^)]*\\)", "$1").replace("`", "").replaceAll("<[^>]+>", "");
        return text.toLowerCase(java.util.Locale.ROOT).replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
    }

    static List<String> links(String markdown) {
        String prose = CODE_SPAN.matcher(prose(markdown)).replaceAll("");
        List<String> targets = new ArrayList<>();
        for (Pattern pattern : List.of(INLINE, REFERENCE)) {
            Matcher m = pattern.matcher(prose);
            while (m.find()) {
                targets.add(m.group(1));
            }
        }
        return targets;
    }

    /** The text outside fenced code blocks and HTML comments; inline code is left in (headings keep it). */
    private static String prose(String markdown) {
        StringBuilder out = new StringBuilder();
        boolean inFence = false;
        for (String line : COMMENT.matcher(markdown).replaceAll("").split("\n", -1)) {
            if (FENCE.matcher(line.stripLeading()).lookingAt()) {
                inFence = !inFence;
                continue;
            }
            if (!inFence) {
                out.append(line).append('\n');
            }
        }
        return out.toString();
    }

    private static String decode(String s) {
        return java.net.URLDecoder.decode(s.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
