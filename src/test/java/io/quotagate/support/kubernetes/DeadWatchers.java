package io.quotagate.support.kubernetes;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;

/**
 * A write's watch events to a watch whose connection died are dropped, as the apiserver drops them, instead of failing
 * the write. fabric8's mock server (8.0.0, {@code WatchEventsListener.onClosed}) shuts a closed watch's executor
 * down and then waits up to a minute for it before it takes the watch out of the dispatcher's set; meanwhile every
 * write's event to it throws {@link RejectedExecutionException} out of the write handler, after the object was
 * stored, and the client never gets an answer. The other watches after it in the set missed the event too.
 * (ReplicaKillIT, 2026-12-07: after the SIGKILL of a replica, 30 s of creates that timed out although stored, and
 * twins from their retries; the killed member's share came back only then.)
 *
 * <p>That wait itself runs on the mock server's only Vert.x event loop ({@code onClosed} and {@code onFailure} both
 * call {@code awaitTermination(1, MINUTES)} there), and a send the executor is running when the connection dies can
 * hold it: every request to the emulation then waits. ReplicaKillIT, the same evening: the event loop blocked for 30
 * s after the SIGKILL, and the killed member's permits came back after 30.3 s. The apiserver serves its other
 * clients while one watch dies, so each watch's executor is wrapped on its way into the set: its shutdown is kept,
 * the wait is not.
 */
final class DeadWatchers {

    private DeadWatchers() {
    }

    /** Puts a set that drops a dead watch's events in place of the dispatcher's; returns it. */
    static Set<Object> dropEventsToDeadWatches(KubernetesCrudDispatcher dispatcher) {
        Isolating set = new Isolating();
        try {
            Field f = KubernetesCrudDispatcher.class.getDeclaredField("watchEventListeners");
            f.setAccessible(true);
            Set<?> before = (Set<?>) f.get(dispatcher);
            before.forEach(set::add);
            f.set(dispatcher, set);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("fabric8's mock server changed: no KubernetesCrudDispatcher."
                    + "watchEventListeners to guard against dead watches", e);
        }
        return set;
    }

    /**
     * Each watch gets the event on its own: one that cannot take it any more is dropped, the rest still get it.
     * Elements are fabric8's package-private {@code WatchEventsListener}s.
     */
    static final class Isolating extends CopyOnWriteArraySet<Object> {
        @Override
        public boolean add(Object watch) {
            waitNotOnClose(watch);
            return super.add(watch);
        }

        @Override
        public void forEach(Consumer<? super Object> action) {
            for (Object watch : this) {
                try {
                    action.accept(watch);
                } catch (RejectedExecutionException closed) {
                    remove(watch);
                }
            }
        }
    }

    /** Replaces the watch's executor by one whose {@code awaitTermination} only says whether it has terminated. */
    static void waitNotOnClose(Object watch) {
        try {
            Field f = watch.getClass().getDeclaredField("executor");
            f.setAccessible(true);
            ScheduledExecutorService real = (ScheduledExecutorService) f.get(watch);
            if (Proxy.isProxyClass(real.getClass())) {
                return;
            }
            f.set(watch, Proxy.newProxyInstance(DeadWatchers.class.getClassLoader(),
                    new Class<?>[] {ScheduledExecutorService.class}, (proxy, method, args) -> {
                        if (method.getName().equals("awaitTermination")) {
                            return real.isTerminated();
                        }
                        try {
                            return method.invoke(real, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    }));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("fabric8's mock server changed: no WatchEventsListener.executor to keep "
                    + "its close from blocking the event loop", e);
        }
    }
}
