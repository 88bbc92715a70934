package io.quotagate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JVM the container image runs: its flags are read from Jib's {@code <jvmFlag>} entries in {@code pom.xml}, so
 * a test or benchmark that starts the service "as the image does" cannot drift from the image.
 */
public final class ImageJvm {

    /** The chart's default memory limit; in a pod the JVM reads it from the cgroup, here it is given as MaxRAM. */
    public static final String POD_MEMORY = "768m";

    private ImageJvm() {
    }

    /** The image's JVM flags followed by {@code -XX:MaxRAM} for {@link #POD_MEMORY}. */
    public static List<String> flags() {
        String pom;
        try {
            pom = Files.readString(Path.of("pom.xml"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> flags = new ArrayList<>();
        Matcher m = Pattern.compile("<jvmFlag>([^<]+)</jvmFlag>").matcher(pom);
        while (m.find()) {
            flags.add(m.group(1).trim());
        }
        if (flags.isEmpty()) {
            throw new IllegalStateException("no <jvmFlag> in pom.xml");
        }
        flags.add("-XX:MaxRAM=" + POD_MEMORY);
        return flags;
    }

    /** The {@code java} of the JVM running this code. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
