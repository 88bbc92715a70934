package io.quotagate.support;

/**
 * The resource lock ({@code @ResourceLock(SharedLogging.LOCK)}) of tests that change a logger's level or capture the
 * process's output. {@code ReplicasPropertiesTest} runs beside other test classes (junit-platform.properties) with two
 * loggers switched off; a test reading log lines, or saving and restoring the same levels, must not run meanwhile.
 */
public final class SharedLogging {

    public static final String LOCK = "quotagate.logging";

    private SharedLogging() {
    }
}
