package io.quotagate.config;

/**
 * A setting that cannot work, found while building a component (a template that cannot be read, a
 * parameter path that cannot be written). Start-up stops with one message naming the property.
 */
public class InvalidConfigurationException extends IllegalStateException {

    private final String property;
    private final String action;

    public InvalidConfigurationException(String property, String message, String action, Throwable cause) {
        super(message, cause);
        this.property = property;
        this.action = action;
    }

    public String property() {
        return property;
    }

    public String action() {
        return action;
    }
}
