package io.quotagate.support.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A fresh {@link KubernetesApiEmulation} per test, injected as a parameter; a {@link KubernetesClient} parameter
 * gets {@link KubernetesApiEmulation#client()}. Fresh per test because quotas, counters and knobs are state.
 * Resolves parameters of test and {@code @BeforeEach} methods, not of constructors (they run before it starts).
 */
public final class KubernetesApiEmulationExtension implements BeforeEachCallback, AfterEachCallback,
    ParameterResolver {

  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(KubernetesApiEmulationExtension.class);

  @Override
  public void beforeEach(ExtensionContext context) {
    store(context).put(KubernetesApiEmulation.class, new KubernetesApiEmulation());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    KubernetesApiEmulation emulation = store(context).remove(KubernetesApiEmulation.class,
        KubernetesApiEmulation.class);
    if (emulation != null) {
      emulation.close();
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == KubernetesApiEmulation.class || type == KubernetesClient.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    KubernetesApiEmulation emulation = store(context).get(KubernetesApiEmulation.class,
        KubernetesApiEmulation.class);
    return parameter.getParameter().getType() == KubernetesClient.class ? emulation.client() : emulation;
  }

  private static ExtensionContext.Store store(ExtensionContext context) {
    return context.getStore(NAMESPACE);
  }
}
