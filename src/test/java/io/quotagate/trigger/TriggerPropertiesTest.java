package io.quotagate.trigger;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class TriggerPropertiesTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withUserConfiguration(Props.class);

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(TriggerProperties.class)
    static class Props {
    }

    @Test
    void defaultsAreTheContractDefaults() {
        runner.run(context -> {
            TriggerProperties p = context.getBean(TriggerProperties.class);
            assertThat(p.namespace()).isEmpty();
            assertThat(p.template()).isEqualTo("file:/etc/quotagate/template.yaml");
            assertThat(p.parameters()).isEmpty();
            assertThat(p.concurrency()).isEqualTo(4);
            assertThat(p.requestTimeout()).isEqualTo(Duration.ofSeconds(10));
        });
    }

    @Test
    void bindsRelaxedNamesAndParameters() {
        runner.withPropertyValues(
                "trigger.kubernetes.namespace=jobs",
                "trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "trigger.kubernetes.concurrency=1",
                "trigger.kubernetes.request-timeout=3",
                "trigger.kubernetes.parameters[0].src.data-key=user.name",
                "trigger.kubernetes.parameters[0].src.value=anonymous",
                "trigger.kubernetes.parameters[0].dest=spec.arguments.parameters.0.value",
                "trigger.kubernetes.parameters[1].src.contextKey=id",
                "trigger.kubernetes.parameters[1].dest=metadata.labels.event-id",
                "trigger.kubernetes.parameters[2].dest=metadata.annotations.payload"
        ).run(context -> {
            TriggerProperties p = context.getBean(TriggerProperties.class);
            assertThat(p.namespace()).isEqualTo("jobs");
            assertThat(p.template()).isEqualTo("classpath:templates/workflow.yaml");
            assertThat(p.concurrency()).isEqualTo(1);
            assertThat(p.requestTimeout()).as("a bare number means seconds").isEqualTo(Duration.ofSeconds(3));
            assertThat(p.parameters()).containsExactly(
                    new TriggerProperties.Parameter(new TriggerProperties.Src("user.name", null, "anonymous"),
                            "spec.arguments.parameters.0.value"),
                    new TriggerProperties.Parameter(new TriggerProperties.Src(null, "id", null),
                            "metadata.labels.event-id"),
                    new TriggerProperties.Parameter(new TriggerProperties.Src(null, null, null),
                            "metadata.annotations.payload"));
        });
    }

    @Test
    void durationsWithUnitsBind() {
        runner.withPropertyValues("trigger.kubernetes.request-timeout=1500ms").run(context ->
                assertThat(context.getBean(TriggerProperties.class).requestTimeout()).isEqualTo(Duration.ofMillis(1500)));
    }

    @Test
    void concurrencyBelowOneNamesThePropertyAndTheRule() {
        runner.withPropertyValues("trigger.kubernetes.concurrency=0").run(context ->
                assertThat(context.getStartupFailure()).rootCause()
                        .hasMessageContaining("trigger.kubernetes")
                        .hasMessageContaining("concurrency")
                        .hasMessageContaining("must be at least 1"));
    }

    @Test
    void nonPositiveTimeoutIsRejected() {
        runner.withPropertyValues("trigger.kubernetes.request-timeout=0s").run(context ->
                assertThat(context.getStartupFailure()).rootCause()
                        .hasMessageContaining("requestTimeout")
                        .hasMessageContaining("must be a positive duration"));
    }

    @Test
    void parameterWithoutDestIsRejected() {
        runner.withPropertyValues("trigger.kubernetes.parameters[0].src.data-key=a").run(context ->
                assertThat(context.getStartupFailure()).rootCause()
                        .hasMessageContaining("parameters[0].dest")
                        .hasMessageContaining("must name the manifest field to fill"));
    }

    @Test
    void invalidNamespaceIsRejected() {
        runner.withPropertyValues("trigger.kubernetes.namespace=Not_A_Namespace").run(context ->
                assertThat(context.getStartupFailure()).rootCause()
                        .hasMessageContaining("namespace")
                        .hasMessageContaining("must be empty (use backpressure.namespace) or a namespace name"));
    }

    @Test
    void blankTemplateIsRejected() {
        runner.withPropertyValues("trigger.kubernetes.template= ").run(context ->
                assertThat(context.getStartupFailure()).rootCause()
                        .hasMessageContaining("template")
                        .hasMessageContaining("must name the manifest template"));
    }
}
