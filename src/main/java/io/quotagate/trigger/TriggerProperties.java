package io.quotagate.trigger;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import org.hibernate.validator.constraints.time.DurationMin;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.convert.DurationUnit;
import org.springframework.validation.annotation.Validated;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * How each message becomes a Kubernetes object: which manifest, where, and which message values go into it.
 * Immutable; the defaults here are the documented defaults of the contract.
 *
 * @param namespace      namespace the objects are created in; empty means the gate's namespace
 *                       ("backpressure.namespace"), so the quota that is watched is the quota that is charged
 * @param template       location of the manifest template (YAML or JSON, one object with apiVersion and kind);
 *                       "file:" and "classpath:" locations both work
 * @param parameters     Argo-Events-style parameters: each copies one value from the message into the manifest
 * @param concurrency    the most creates in flight at once (creates faster than 100 µs run on one worker); 1 keeps
 *                       message order
 * @param requestTimeout how long one create may take before the message is retried; a bare number means seconds
 */
@Validated
@ConfigurationProperties(prefix = "trigger.kubernetes")
public record TriggerProperties(
        @Pattern(regexp = "|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
                message = "must be empty (use backpressure.namespace) or a namespace name: lower-case letters, digits and '-', at most 63 characters")
        @DefaultValue("") String namespace,

        @NotBlank(message = "must name the manifest template, e.g. file:/etc/quotagate/template.yaml or classpath:templates/workflow.yaml")
        @DefaultValue("file:/etc/quotagate/template.yaml") String template,

        @NotNull @DefaultValue List<@Valid Parameter> parameters,

        @Min(value = 1, message = "must be at least 1 (1 keeps message order)")
        @DefaultValue("4") int concurrency,

        @NotNull
        @DurationMin(millis = 1, message = "must be a positive duration, e.g. 10s")
        @DurationUnit(ChronoUnit.SECONDS)
        @DefaultValue("10s") Duration requestTimeout) {

    public TriggerProperties {
        parameters = parameters == null ? List.of() : List.copyOf(parameters);
    }

    /**
     * One value copied from the message into the manifest, as in an Argo Events trigger parameter.
     *
     * @param src  where the value comes from; omitted means the whole payload
     * @param dest dotted path in the manifest to write it to; numeric segments index lists
     *             (e.g. {@code spec.arguments.parameters.0.value}), {@code \.} escapes a dot inside a key
     */
    public record Parameter(
            @NotNull @Valid @DefaultValue Src src,
            @NotBlank(message = "must name the manifest field to fill, e.g. spec.arguments.parameters.0.value")
            String dest) {
    }

    /**
     * The source of a parameter value. {@code data-key} wins when both keys are set, as in Argo Events.
     *
     * @param dataKey    dotted path into the message's JSON (into {@code data} for a CloudEvent); empty or absent
     *                   means the whole payload as text
     * @param contextKey a CloudEvent attribute ({@code id}, {@code source}, {@code subject}, {@code type},
     *                   {@code time}, {@code specversion}, {@code datacontenttype} or an extension)
     * @param value      default used when the key is absent from the message; when not set, an absent key makes
     *                   the message poison
     */
    public record Src(String dataKey, String contextKey, String value) {
    }
}
