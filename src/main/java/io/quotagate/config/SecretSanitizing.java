package io.quotagate.config;

import java.util.Locale;
import java.util.regex.Pattern;

import org.springframework.boot.actuate.endpoint.SanitizableData;
import org.springframework.boot.actuate.endpoint.SanitizingFunction;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Masks secrets in {@code /actuator/configprops} and {@code /actuator/env} even when an operator turns on
 * {@code management.endpoint.*.show-values=always} to debug the rest of the configuration: NATS token, password,
 * key/trust store passwords, anything named like a secret, and credentials embedded in a URL
 * ({@code nats://user:pass@host}).
 */
@Configuration(proxyBeanMethods = false)
public class SecretSanitizing {

    private static final Pattern SECRET_KEY = Pattern.compile(
            ".*(password|passwd|secret|token|credentials|private-?key|privatekey|passphrase|seed).*");
    private static final Pattern URL_USER_INFO = Pattern.compile("([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\\s,]+@");

    @Bean
    SanitizingFunction quotaGateSecrets() {
        return data -> {
            String key = data.getKey() == null ? "" : data.getKey().toLowerCase(Locale.ROOT).replace('_', '-');
            if (SECRET_KEY.matcher(key).matches()) {
                return data.withValue(SanitizableData.SANITIZED_VALUE);
            }
            if (data.getValue() instanceof CharSequence value && URL_USER_INFO.matcher(value).find()) {
                return data.withValue(URL_USER_INFO.matcher(value).replaceAll("$1" + SanitizableData.SANITIZED_VALUE + "@"));
            }
            return data;
        };
    }
}
