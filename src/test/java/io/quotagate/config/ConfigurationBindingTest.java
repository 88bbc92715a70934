package io.quotagate.config;

import java.time.Duration;
import java.util.Map;

import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.gate.FailMode;
import io.quotagate.quota.BackpressureProperties;
import io.quotagate.trigger.TriggerProperties;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.context.ConfigurationPropertiesAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** Every property binds as the contract says, the original sensor's env vars work, and nonsense stops start-up. */
class ConfigurationBindingTest {

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties({BackpressureProperties.class, JetStreamProperties.class, TriggerProperties.class})
    static class Props {
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ConfigurationPropertiesAutoConfiguration.class,
                    ValidationAutoConfiguration.class))
            .withUserConfiguration(Props.class);

    @Test
    void defaultsAreTheContractsDefaults() {
        runner.run(ctx -> {
            BackpressureProperties b = ctx.getBean(BackpressureProperties.class);
            assertThat(b.quotaName()).isEmpty();
            assertThat(b.gateEnabled()).isFalse();
            assertThat(b.resourceName()).as("empty: every resource the object consumes").isEmpty();
            assertThat(b.capacityRatio()).isEqualTo(0.95);
            assertThat(b.pollInterval()).isEqualTo(Duration.ofSeconds(30));
            assertThat(b.namespace()).isEmpty();
            assertThat(b.failMode()).isEqualTo(FailMode.CLOSED);
            JetStreamProperties j = ctx.getBean(JetStreamProperties.class);
            assertThat(j.url()).isEqualTo("nats://localhost:4222");
            assertThat(j.stream()).isEqualTo("EVENTS");
            assertThat(j.createStream()).isFalse();
            assertThat(j.durable()).isEqualTo("quotagate");
            assertThat(j.filterSubject()).isEmpty();
            assertThat(j.batchSize()).isEqualTo(64);
            assertThat(j.fetchMaxWait()).isEqualTo(Duration.ofSeconds(1));
            assertThat(j.ackWait()).isEqualTo(Duration.ofSeconds(30));
            assertThat(j.maxDeliver()).isEqualTo(-1);
            assertThat(j.deadLetterSubject()).isEmpty();
            assertThat(j.streamRoomWarning()).isEqualTo(0.2);
            TriggerProperties t = ctx.getBean(TriggerProperties.class);
            assertThat(t.namespace()).isEmpty();
            assertThat(t.template()).isEqualTo("file:/etc/quotagate/template.yaml");
            assertThat(t.parameters()).isEmpty();
        });
    }

    @Test
    void everyPropertyBindsFromItsContractName() {
        runner.withPropertyValues(
                "backpressure.quota-name=wf-quota", "backpressure.resource-name=count/jobs.batch",
                "backpressure.capacity-ratio=0.8", "backpressure.poll-interval=10s", "backpressure.namespace=argo",
                "backpressure.fail-mode=open",
                "jetstream.url=nats://a:4222,nats://b:4222", "jetstream.stream=S", "jetstream.create-stream=true",
                "jetstream.durable=d", "jetstream.filter-subject=s.>", "jetstream.batch-size=10",
                "jetstream.fetch-max-wait=2s", "jetstream.ack-wait=1m", "jetstream.max-deliver=5",
                "jetstream.dead-letter-subject=dlq",
                "trigger.kubernetes.namespace=jobs", "trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "trigger.kubernetes.parameters[0].src.data-key=a.b", "trigger.kubernetes.parameters[0].src.value=x",
                "trigger.kubernetes.parameters[0].dest=spec.arguments.parameters.0.value").run(ctx -> {
            assertThat(ctx).hasNotFailed();
            BackpressureProperties b = ctx.getBean(BackpressureProperties.class);
            assertThat(b.quotaName()).isEqualTo("wf-quota");
            assertThat(b.resourceName()).isEqualTo("count/jobs.batch");
            assertThat(b.capacityRatio()).isEqualTo(0.8);
            assertThat(b.pollInterval()).isEqualTo(Duration.ofSeconds(10));
            assertThat(b.namespace()).isEqualTo("argo");
            assertThat(b.failMode()).isEqualTo(FailMode.OPEN);
            JetStreamProperties j = ctx.getBean(JetStreamProperties.class);
            assertThat(j.url()).isEqualTo("nats://a:4222,nats://b:4222");
            assertThat(j.stream()).isEqualTo("S");
            assertThat(j.createStream()).isTrue();
            assertThat(j.durable()).isEqualTo("d");
            assertThat(j.filterSubject()).isEqualTo("s.>");
            assertThat(j.batchSize()).isEqualTo(10);
            assertThat(j.fetchMaxWait()).isEqualTo(Duration.ofSeconds(2));
            assertThat(j.ackWait()).isEqualTo(Duration.ofMinutes(1));
            assertThat(j.maxDeliver()).isEqualTo(5);
            assertThat(j.deadLetterSubject()).isEqualTo("dlq");
            TriggerProperties t = ctx.getBean(TriggerProperties.class);
            assertThat(t.namespace()).isEqualTo("jobs");
            assertThat(t.template()).isEqualTo("classpath:templates/workflow.yaml");
            assertThat(t.parameters()).singleElement().satisfies(p -> {
                assertThat(p.src().dataKey()).isEqualTo("a.b");
                assertThat(p.src().value()).isEqualTo("x");
                assertThat(p.dest()).isEqualTo("spec.arguments.parameters.0.value");
            });
        });
    }

    @Test
    void theOriginalSensorsEnvironmentVariablesKeepWorking() {
        runner.withInitializer(ctx -> ctx.getEnvironment().getPropertySources().addFirst(
                new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                        Map.of("BACKPRESSURE_QUOTA_NAME", "argo-quota",
                                "BACKPRESSURE_RESOURCE_NAME", "count/workflows.argoproj.io",
                                "BACKPRESSURE_CAPACITY_RATIO", "0.9",
                                "BACKPRESSURE_POLL_INTERVAL", "30")))).run(ctx -> {
            assertThat(ctx).hasNotFailed();
            BackpressureProperties b = ctx.getBean(BackpressureProperties.class);
            assertThat(b.quotaName()).isEqualTo("argo-quota");
            assertThat(b.resourceName()).isEqualTo("count/workflows.argoproj.io");
            assertThat(b.capacityRatio()).isEqualTo(0.9);
            assertThat(b.pollInterval()).as("a bare number means seconds").isEqualTo(Duration.ofSeconds(30));
        });
    }

    @Test
    void aCapacityRatioOfZeroOrAboveOneStopsStartUpNamingThePropertyAndTheRange() {
        for (String ratio : new String[] {"0", "1.5", "-0.1"}) {
            runner.withPropertyValues("backpressure.capacity-ratio=" + ratio).run(ctx -> {
                assertThat(ctx).hasFailed();
                assertThat(allMessages(ctx.getStartupFailure()))
                        .contains("backpressure").contains("capacityRatio")
                        .contains("must be greater than 0 and at most 1");
            });
        }
    }

    @Test
    void aNegativeBatchSizeStopsStartUp() {
        runner.withPropertyValues("jetstream.batch-size=-5").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(allMessages(ctx.getStartupFailure())).contains("batchSize").contains("must be at least 1");
        });
    }

    @Test
    void anUnknownFailModeStopsStartUp() {
        runner.withPropertyValues("backpressure.fail-mode=maybe").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(allMessages(ctx.getStartupFailure())).contains("backpressure.fail-mode").contains("maybe");
        });
    }

    @Test
    void crossFieldRulesNameTheProperty() {
        runner.withPropertyValues("jetstream.fetch-max-wait=200ms", "jetstream.max-deliver=0",
                "jetstream.username=u").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(allMessages(ctx.getStartupFailure()))
                    .contains("jetstream.fetch-max-wait must be at least 1s")
                    .contains("jetstream.max-deliver must be -1 (unlimited) or at least 1")
                    .contains("jetstream.username and jetstream.password must be set together");
        });
    }

    @Test
    void aStreamRoomWarningOutsideZeroToOneStopsStartUpNamingTheRange() {
        for (String ratio : new String[] {"0", "20", "-0.2"}) {
            runner.withPropertyValues("jetstream.stream-room-warning=" + ratio).run(ctx -> {
                assertThat(ctx).hasFailed();
                assertThat(allMessages(ctx.getStartupFailure()))
                        .contains("jetstream.stream-room-warning must be a fraction above 0 and at most 1");
            });
        }
        runner.withPropertyValues("jetstream.stream-room-warning=0.05")
                .run(ctx -> assertThat(ctx.getBean(JetStreamProperties.class).streamRoomWarning()).isEqualTo(0.05));
    }

    @Test
    void anEmptyTemplateStopsStartUp() {
        runner.withPropertyValues("backpressure.quota-name=q", "trigger.kubernetes.template=").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(allMessages(ctx.getStartupFailure())).contains("template").contains("must name the manifest template");
        });
    }

    @Test
    void secretsNeverAppearInToString() {
        runner.withPropertyValues("jetstream.token=s3cr3t", "jetstream.username=u", "jetstream.password=pa55").run(ctx ->
                assertThat(ctx.getBean(JetStreamProperties.class).toString()).doesNotContain("s3cr3t").doesNotContain("pa55"));
    }

    static String allMessages(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getMessage()).append('\n');
        }
        return sb.toString();
    }
}
