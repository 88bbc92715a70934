package io.quotagate.active;

import java.util.HashMap;
import java.util.Map;

import io.quotagate.QuotaGateApplication;
import io.quotagate.quota.BackpressureProperties;
import io.quotagate.trigger.ConsumerLabel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.junit.jupiter.api.parallel.ResourceLock;
import io.quotagate.support.SharedLogging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code backpressure.active.*}: binding, the limits they make, and start-up refusing what cannot work. */
@ExtendWith(OutputCaptureExtension.class)
@ResourceLock(SharedLogging.LOCK)
class ActivePropertiesTest {

    static BackpressureProperties bind(Map<String, Object> map) {
        return new Binder(new MapConfigurationPropertySource(map))
                .bindOrCreate("backpressure", Bindable.of(BackpressureProperties.class));
    }

    @Test
    void offByDefaultAndTheGateStaysOffWithoutAQuota() {
        BackpressureProperties p = bind(Map.of());
        assertThat(p.active().enabled()).isFalse();
        assertThat(p.active().selector()).isEmpty();
        assertThat(p.gateEnabled()).isFalse();
    }

    @Test
    void anActiveLimitAloneTurnsTheGateOn() {
        BackpressureProperties p = bind(Map.of("backpressure.active.max-objects", "5"));
        assertThat(p.gateEnabled()).isTrue();
        assertThat(p.quotaEnabled()).isFalse();
        assertThat(p.active().limits()).containsExactly(Map.entry("count", 5L));
    }

    @Test
    void requestKeysMayOmitTheRequestsPrefixAndQuantitiesUseKubernetesUnits() {
        Map<String, Object> map = new HashMap<>();
        map.put("backpressure.active.max-requests.cpu", "64");
        map.put("backpressure.active.max-requests.requests.memory", "256Gi");
        map.put("backpressure.active.max-requests[nvidia.com/gpu]", "2");
        BackpressureProperties p = bind(map);
        assertThat(p.active().limits()).containsEntry("requests.cpu", 64_000L)
                .containsEntry("requests.memory", 256L << 30).containsEntry("requests.nvidia.com/gpu", 2L)
                .doesNotContainKey("count");
        assertThat(p.active().enabled()).isTrue();
    }

    @Test
    void theConsumerLabelIsAValidLabelValueForAnyDurable() {
        assertThat(ConsumerLabel.value("quotagate")).isEqualTo("quotagate");
        assertThat(ConsumerLabel.selector("quotagate")).isEqualTo("quotagate.io/consumer=quotagate");
        String longName = "x".repeat(100);
        assertThat(ConsumerLabel.value(longName)).hasSizeLessThanOrEqualTo(63).startsWith("xxx")
                .isNotEqualTo(ConsumerLabel.value(longName + "y"));
        assertThat(ConsumerLabel.value("_odd$name_")).matches("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
                .isNotEqualTo(ConsumerLabel.value("_odd%name_"));
        assertThat(LabelSelector.parse(ConsumerLabel.selector(longName)).matches(
                Map.of(ConsumerLabel.KEY, ConsumerLabel.value(longName)))).isTrue();
    }

    private static void start(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--jetstream.url=nats://127.0.0.1:1";
        all[1] = "--kubernetes.master-url=http://127.0.0.1:1";
        System.arraycopy(args, 0, all, 2, args.length);
        new SpringApplicationBuilder(QuotaGateApplication.class).web(WebApplicationType.NONE).run(all);
    }

    @Test
    void anInvalidQuantityNamesThePropertyAndWhatItAccepts(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.active.max-requests.cpu=lots")).isNotNull();
        assertThat(output).contains("backpressure.active.max-requests must map resource names")
                .contains("positive quantities");
    }

    @Test
    void anInvalidSelectorNamesThePropertyAndTheSyntax(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.active.selector=app in a")).isNotNull();
        assertThat(output).contains("backpressure.active.selector must be a label selector");
    }

    @Test
    void aNegativeMaxObjectsIsRefused(CapturedOutput output) {
        assertThatThrownBy(() -> start("--backpressure.active.max-objects=-1")).isNotNull();
        assertThat(output).contains("backpressure.active.max-objects must be 0 (off) or more");
    }
}
