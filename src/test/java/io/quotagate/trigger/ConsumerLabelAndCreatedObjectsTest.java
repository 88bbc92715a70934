package io.quotagate.trigger;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.kubernetes.KubernetesApiEmulationExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.assertj.core.api.Assertions.assertThat;

/** Every created object carries the consumer's label, and only a stored object is told to the created-objects listener. */
@ExtendWith(KubernetesApiEmulationExtension.class)
class ConsumerLabelAndCreatedObjectsTest {

    static final String NS = "argo";

    static InboundMessage message(long sequence) {
        return new InboundMessage("EVENTS", sequence, "events.test", "{}".getBytes(StandardCharsets.UTF_8), Map.of(), 1);
    }

    @Test
    void labelsEveryObjectAndTellsOnlyStoredOnes(KubernetesApiEmulation kubernetes) {
        KubernetesResourceTrigger trigger = new KubernetesResourceTrigger(kubernetes.client(), NS,
                ManifestTemplate.load("classpath:templates/workflow.yaml"), List.of(), Duration.ofSeconds(5),
                Map.of(ConsumerLabel.KEY, ConsumerLabel.value("orders")), null);
        List<GenericKubernetesResource> told = new CopyOnWriteArrayList<>();
        trigger.onCreated(told::add);

        assertThat(trigger.fire(message(1)).outcome()).isEqualTo(TriggerResult.Outcome.CREATED);
        GenericKubernetesResource stored = kubernetes.objects(NS, "Workflow").get(0);
        assertThat(stored.getMetadata().getLabels()).containsEntry(ConsumerLabel.KEY, "orders")
                .as("the template's own label stays").containsEntry("app.kubernetes.io/managed-by", "quotagate");
        assertThat(told).singleElement().satisfies(o -> {
            assertThat(o.getMetadata().getUid()).isEqualTo(stored.getMetadata().getUid());
            assertThat(o.getMetadata().getLabels()).containsEntry(ConsumerLabel.KEY, "orders");
        });

        assertThat(trigger.fire(message(1)).outcome()).as("redelivered").isEqualTo(TriggerResult.Outcome.ALREADY_EXISTS);
        kubernetes.failNextCreates(500, 1);
        assertThat(trigger.fire(message(2)).outcome()).isEqualTo(TriggerResult.Outcome.TRANSIENT);
        assertThat(told).as("nothing stored, nothing told").hasSize(1);

        trigger.onCreated(o -> {
            throw new IllegalStateException("a listener's bug");
        });
        assertThat(trigger.fire(message(3)).outcome()).as("a listener cannot fail a create")
                .isEqualTo(TriggerResult.Outcome.CREATED);
    }
}
