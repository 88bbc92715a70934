package io.quotagate.config;

import java.util.Map;

import io.quotagate.quota.BackpressureProperties;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.ConfigurationPropertiesAutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code backpressure.quota-names}: adds to {@code quota-name}, binds from an env var, and rejects nonsense. */
class QuotaNamesBindingTest {

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(BackpressureProperties.class)
    static class Props {
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ConfigurationPropertiesAutoConfiguration.class,
                    ValidationAutoConfiguration.class))
            .withUserConfiguration(Props.class);

    @Test
    void byDefaultOnlyQuotaNameCounts() {
        runner.withPropertyValues("backpressure.quota-name=wf").run(ctx -> {
            BackpressureProperties b = ctx.getBean(BackpressureProperties.class);
            assertThat(b.quotaNames()).isEmpty();
            assertThat(b.quotas()).containsExactly("wf");
            assertThat(b.everyQuota()).isFalse();
        });
    }

    @Test
    void quotaNamesAddToQuotaNameFromAnEnvVarEachOnce() {
        runner.withInitializer(ctx -> ctx.getEnvironment().getPropertySources().addFirst(
                new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                        Map.of("BACKPRESSURE_QUOTA_NAME", "wf", "BACKPRESSURE_QUOTA_NAMES", "team,compute,wf"))))
                .run(ctx -> {
                    assertThat(ctx).hasNotFailed();
                    BackpressureProperties b = ctx.getBean(BackpressureProperties.class);
                    assertThat(b.quotas()).containsExactly("wf", "team", "compute");
                    assertThat(b.gateEnabled()).isTrue();
                });
    }

    @Test
    void quotaNamesAloneTurnTheGateOn() {
        runner.withPropertyValues("backpressure.quota-names=*").run(ctx -> {
            BackpressureProperties b = ctx.getBean(BackpressureProperties.class);
            assertThat(b.everyQuota()).isTrue();
            assertThat(b.gateEnabled()).isTrue();
            assertThat(b.quotas()).isEmpty();
        });
    }

    @Test
    void aStarMixedWithNamesStopsStartUpNamingTheProperty() {
        runner.withPropertyValues("backpressure.quota-names=*,team").run(ctx -> {
            assertThat(ctx).hasFailed();
            assertThat(ConfigurationBindingTest.allMessages(ctx.getStartupFailure()))
                    .contains("backpressure.quota-names").contains("[\"*\"]");
        });
    }
}
