package io.quotagate.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One line of Linux's {@code /proc/<pid>/stat} or {@code /proc/<pid>/task/<tid>/stat}: the name and the CPU time
 * (user + system) so far, for benchmarks that say where a message's CPU goes (threads the JVM cannot time, another
 * process such as the nats-server).
 */
public record ProcStat(String name, long cpuNanos) {

    /** {@code /proc} counts in clock ticks; 100 per second on every Linux this runs on. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    public static ProcStat read(Path statFile) throws IOException {
        String stat = Files.readString(statFile);
        // The name is in parentheses and may itself contain spaces or parentheses: fields follow the last ')'.
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new ProcStat(name, (Long.parseLong(f[11]) + Long.parseLong(f[12])) * NANOS_PER_TICK);
    }
}
