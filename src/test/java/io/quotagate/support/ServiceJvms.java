package io.quotagate.support;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;

/**
 * Marks an integration test that starts the service as JVMs of its own ({@link ServiceProcess}: replicas, the image's
 * start-up, a real SIGKILL or SIGTERM). The other ITs run two at a time (pom.xml, failsafe); these run afterwards, one
 * at a time, with the machine to themselves. Three replica JVMs starting cold beside another IT's load, on two
 * cores, stretched a first fetch's processing past the 3 s ack-wait of {@code CreatedRecordCrashIT} (whose victim may
 * send no ack and no in-progress either), which is not what those tests are about.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag(ServiceJvms.TAG)
public @interface ServiceJvms {

    String TAG = "service-jvms";
}
