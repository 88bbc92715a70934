package io.quotagate.active;

import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LabelSelectorTest {

    static boolean matches(String selector, Map<String, String> labels) {
        return LabelSelector.parse(selector).matches(labels);
    }

    @Test
    void equalityAndInequality() {
        assertThat(matches("app=a", Map.of("app", "a"))).isTrue();
        assertThat(matches("app==a", Map.of("app", "a"))).isTrue();
        assertThat(matches("app=a", Map.of("app", "b"))).isFalse();
        assertThat(matches("app=a", Map.of())).isFalse();
        assertThat(matches("workflows.argoproj.io/completed!=true", Map.of())).as("absent is not equal").isTrue();
        assertThat(matches("workflows.argoproj.io/completed!=true", Map.of("workflows.argoproj.io/completed", "true")))
                .isFalse();
    }

    @Test
    void setsExistenceAndSeveralRequirements() {
        String s = "env in (prod, staging),tier notin (frontend),team,!legacy";
        assertThat(matches(s, Map.of("env", "prod", "team", "x"))).isTrue();
        assertThat(matches(s, Map.of("env", "dev", "team", "x"))).isFalse();
        assertThat(matches(s, Map.of("env", "prod", "team", "x", "tier", "frontend"))).isFalse();
        assertThat(matches(s, Map.of("env", "prod"))).isFalse();
        assertThat(matches(s, Map.of("env", "prod", "team", "x", "legacy", ""))).isFalse();
        assertThat(matches("size>3", Map.of("size", "4"))).isTrue();
        assertThat(matches("size<3", Map.of("size", "4"))).isFalse();
        assertThat(LabelSelector.parse("").isEmpty()).isTrue();
        assertThat(matches("", null)).isTrue();
    }

    @Test
    void malformedSelectorsAreRefusedWithWhatIsWrong() {
        assertThatThrownBy(() -> LabelSelector.parse("app=a,")).hasMessageContaining("empty requirement");
        assertThatThrownBy(() -> LabelSelector.parse("app in a,b")).hasMessageContaining("parentheses");
        assertThatThrownBy(() -> LabelSelector.parse("-app=a")).hasMessageContaining("not a label key");
        assertThatThrownBy(() -> LabelSelector.parse("app=a b")).hasMessageContaining("not a label value");
        assertThatThrownBy(() -> LabelSelector.parse("size>x")).hasMessageContaining("integer");
    }
}
