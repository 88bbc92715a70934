package io.quotagate.deadletter;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a listing, a dry run or a replay found and did, one entry per dead letter taken.
 *
 * @param subject   the dead-letter subject
 * @param stream    the stream that stores it
 * @param selection what was asked for
 * @param dryRun    true when nothing was changed
 * @param entries   the dead letters taken, oldest first
 * @param truncated true when more matched than the selection's limit
 */
public record ReplayReport(String subject, String stream, DeadLetterSelection selection, boolean dryRun,
                           List<Entry> entries, boolean truncated) {

    public enum Outcome {
        /** Dry run or listing: nothing changed. Not replayable ones say so instead. */
        WOULD_REPLAY,
        /** Stored by the original stream, dead letter deleted. */
        REPLAYED,
        /** Stored by the original stream, but the dead letter is still there; replaying it again is harmless. */
        REPLAYED_NOT_REMOVED,
        /** Not stored; the dead letter stays. */
        FAILED,
        /** Not a QuotaGate dead letter (no original subject or sequence); left alone. */
        NOT_REPLAYABLE
    }

    /** One dead letter and what became of it; {@code detail} says why when it is not plain. */
    public record Entry(DeadLetter deadLetter, Outcome outcome, String detail) {
        static Entry dryRun(DeadLetter d) {
            String problem = d.notReplayable();
            return problem == null ? new Entry(d, Outcome.WOULD_REPLAY, null)
                    : new Entry(d, Outcome.NOT_REPLAYABLE, problem);
        }

        public Map<String, Object> view() {
            Map<String, Object> v = deadLetter.view();
            v.put("outcome", outcome.name());
            if (detail != null) {
                v.put("detail", detail);
            }
            return v;
        }
    }

    public Map<Outcome, Integer> counts() {
        Map<Outcome, Integer> counts = new EnumMap<>(Outcome.class);
        entries.forEach(e -> counts.merge(e.outcome(), 1, Integer::sum));
        return counts;
    }

    /** True when every dead letter taken was replayed and removed (or would be, in a dry run). */
    public boolean complete() {
        return entries.stream().allMatch(e -> e.outcome() == Outcome.REPLAYED || e.outcome() == Outcome.WOULD_REPLAY);
    }

    public Map<String, Object> view() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("subject", subject);
        v.put("stream", stream);
        v.put("selection", selection.toString());
        v.put("dryRun", dryRun);
        v.put("count", entries.size());
        v.put("truncated", truncated);
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts().forEach((k, n) -> counts.put(k.name(), n));
        v.put("outcomes", counts);
        v.put("deadLetters", entries.stream().map(Entry::view).toList());
        return v;
    }

    /** One line per dead letter and a summary, for the one-shot command's output. */
    public String text() {
        StringBuilder out = new StringBuilder();
        out.append(dryRun ? "Dry run: " : "Replay: ").append(selection).append(" on ").append(subject)
                .append(" (stream ").append(stream).append(")\n");
        for (Entry e : entries) {
            DeadLetter d = e.deadLetter();
            out.append("  ").append(e.outcome()).append(" dead letter #").append(d.sequence())
                    .append(d.original() == null ? "" : " of " + d.original().stream() + "#"
                            + Long.toUnsignedString(d.original().sequence()))
                    .append(" reason=").append(d.reason())
                    .append(" subject=").append(d.originalSubject())
                    .append(e.detail() == null ? "" : ": " + e.detail()).append('\n');
        }
        out.append(entries.size()).append(" dead letter(s) taken").append(truncated ? " (more match: raise --limit)" : "")
                .append(", outcomes ").append(counts()).append('\n');
        return out.toString();
    }
}
