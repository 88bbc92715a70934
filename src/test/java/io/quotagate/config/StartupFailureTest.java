package io.quotagate.config;

import io.quotagate.QuotaGateApplication;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.junit.jupiter.api.parallel.ResourceLock;
import io.quotagate.support.SharedLogging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The whole application refuses to start on settings that cannot work, and says which setting and why. */
@ExtendWith(OutputCaptureExtension.class)
@ResourceLock(SharedLogging.LOCK)
class StartupFailureTest {

    /**
     * Nothing to connect to: as arguments, not default properties, because application.yaml outranks those and would
     * point a context that gets past validation at a nats-server on the machine's default port.
     */
    private static void start(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--jetstream.url=nats://127.0.0.1:1";
        all[1] = "--kubernetes.master-url=http://127.0.0.1:1";
        System.arraycopy(args, 0, all, 2, args.length);
        new SpringApplicationBuilder(QuotaGateApplication.class).web(WebApplicationType.NONE).run(all);
    }

    @Test
    void anUnreadableTemplateNamesThePropertyAndTheLocation(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.quota-name=q", "--trigger.kubernetes.template=file:/nonexistent/t.yaml"))
                .isNotNull();
        assertThat(output).contains("Invalid setting trigger.kubernetes.template")
                .contains("file:/nonexistent/t.yaml").contains("cannot be read");
    }

    @Test
    void aWriteTokenTooShortToGuardAnythingIsRefusedWithoutEchoingIt(CapturedOutput output) {
        assertThatThrownBy(() -> start("--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--operations.write-token=short-secret")).isNotNull();
        assertThat(output).contains("Invalid setting operations.write-token").contains("at least 16")
                .doesNotContain("short-secret");
    }

    @Test
    void aCapacityRatioAboveOneNamesThePropertyAndTheRange(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.capacity-ratio=1.5")).isNotNull();
        assertThat(output).contains("Property: backpressure.capacityRatio").contains("Value: \"1.5\"")
                .contains("\"backpressure.capacity-ratio\" from property source")
                .contains("Reason: must be greater than 0 and at most 1");
    }

    @Test
    void aNegativeBatchSizeNamesThePropertyAndTheMinimum(CapturedOutput output) {
        assertThatThrownBy(() -> start("--jetstream.batch-size=-1")).isNotNull();
        assertThat(output).contains("\"jetstream.batch-size\" from property source").contains("Reason: must be at least 1");
    }

    @Test
    void aStallTimeoutShorterThanOneCreateIsRefused(CapturedOutput output) {
        assertThatThrownBy(() -> start("--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--jetstream.stall-timeout=10s", "--trigger.kubernetes.request-timeout=30s")).isNotNull();
        assertThat(output).contains("Invalid setting jetstream.stall-timeout")
                .contains("must be longer than trigger.kubernetes.request-timeout");
    }

    @Test
    void anAckWaitNotLongerThanOneCreateIsRefused(CapturedOutput output) {
        assertThatThrownBy(() -> start("--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--jetstream.ack-wait=10s", "--trigger.kubernetes.request-timeout=10s")).isNotNull();
        assertThat(output).contains("Invalid setting jetstream.ack-wait")
                .contains("must be longer than trigger.kubernetes.request-timeout");
    }

    @Test
    void aForbiddenProbeIntervalOutOfRangeNamesTheRange(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.forbidden-probe-interval=0")).isNotNull();
        assertThat(output).contains("backpressure.forbidden-probe-interval must be between 1s and 10m");
    }

    @Test
    void aCoordinationLeaseOutOfRangeNamesTheRange(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.coordination.lease=1")).isNotNull();
        assertThat(output).contains("backpressure.coordination.lease must be between 2s and 10m");
    }

    @Test
    void anUnknownFailModeListsTheAllowedValues(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.fail-mode=sometimes")).isNotNull();
        assertThat(output).contains("backpressure.fail-mode").containsIgnoringCase("closed").containsIgnoringCase("open");
    }
}
