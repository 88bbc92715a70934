package io.quotagate.support.kubernetes;

import java.lang.reflect.Field;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.RejectedExecutionException;
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
            set.addAll(before);
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
}
