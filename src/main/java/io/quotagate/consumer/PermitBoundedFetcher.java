package io.quotagate.consumer;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.quotagate.logging.ThrottledLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pulls at most a given number of messages from the durable consumer. All pulls go through one pull subscription that
 * lives as long as the consumer is set up. A message the server sends after its pull's window closed (a stalled
 * server or network) is kept there and taken by the next fetch, within that fetch's permits; while the gate is closed
 * such late arrivals go back to JetStream at once. A subscription per fetch would drop them on the floor, and
 * JetStream would hand them out again only after ack-wait. Used by the fetch loop's thread only.
 */
final class PermitBoundedFetcher {

    private static final Logger log = LoggerFactory.getLogger(PermitBoundedFetcher.class);
    /**
     * How long past a pull's expiry its reader waits for the server's answer before it moves on. What arrives later is
     * not lost: it waits in the subscription for the next fetch.
     */
    static final Duration EXPIRY_GRACE = Duration.ofMillis(200);

    private final Duration maxWait;
    private final ThrottledLog throttled;
    private final String source;
    private volatile JetStreamSubscription subscription;

    PermitBoundedFetcher(Duration maxWait, ThrottledLog throttled, String source) {
        this.maxWait = maxWait;
        this.throttled = throttled;
        this.source = source;
    }

    boolean attached() {
        return subscription != null;
    }

    void attach(JetStreamSubscription sub) {
        subscription = sub;
    }

    /**
     * Fetches up to {@code max} messages into {@code sink}, late arrivals of earlier pulls first. A pull for n
     * messages waits until n arrive or it expires, so a partial batch would sit in the server for fetch-max-wait.
     * Instead: take what is there now (no-wait); only when nothing is there, wait for the first message, then take
     * whatever followed it, unless the permits were revoked meanwhile. On any failure (consumer deleted, stream gone,
     * connection closed mid-pull) the subscription is dropped; what arrived before the failure is kept.
     *
     * @param giveBack where messages still waiting in a dropped subscription go (to be settled as unstarted)
     * @return how many were handed to {@code sink}
     */
    int fetch(int max, BooleanSupplier revoked, Consumer<Message> sink, Consumer<Message> giveBack)
            throws InterruptedException {
        JetStreamSubscription sub = subscription;
        if (sub == null) {
            return 0;
        }
        int[] n = {0};
        Consumer<Message> counting = m -> {
            n[0]++;
            sink.accept(m);
        };
        try {
            drainQueued(sub, max, counting);
            if (n[0] < max) {
                long expires = maxWait.toMillis();
                sub.pullNoWait(max - n[0], expires);
                readPull(sub, max, n, counting);
                if (n[0] == 0) {
                    sub.pullExpiresIn(1, expires);
                    readPull(sub, 1, n, counting);
                    if (n[0] == 1 && max > 1 && !revoked.getAsBoolean()) {
                        sub.pullNoWait(max - 1, expires);
                        readPull(sub, max, n, counting);
                    }
                }
            }
            throttled.resolved("fetch", "Fetching from " + source + " again");
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) {
            drop(giveBack);
            throttled.warn("fetch", "Fetch from " + source + " failed: " + e.getMessage());
        }
        return n[0];
    }

    /** Late arrivals while no permits are out go back through {@code giveBack}: none may wait in memory while blocked. */
    void returnLateArrivals(Consumer<Message> giveBack) {
        JetStreamSubscription sub = subscription;
        if (sub == null) {
            return;
        }
        try {
            int[] returned = {0};
            drainQueued(sub, Integer.MAX_VALUE, m -> {
                returned[0]++;
                giveBack.accept(m);
            });
            if (returned[0] > 0) {
                log.info("Returned {} late-arriving messages to JetStream while the gate is closed", returned[0]);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            drop(giveBack);
            throttled.warn("fetch", "Pull subscription on " + source + " failed: " + e.getMessage());
        }
    }

    /** Gives up the subscription (the loop sets it up again); what waits in it goes back first. */
    void drop(Consumer<Message> giveBack) {
        JetStreamSubscription sub = subscription;
        subscription = null;
        if (sub == null) {
            return;
        }
        try {
            drainQueued(sub, Integer.MAX_VALUE, giveBack);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // a deleted consumer or a closed connection: JetStream redelivers them after ack-wait
            log.debug("Returning messages of a dropped subscription: {}", e.toString());
        }
        try {
            if (sub.isActive()) {
                sub.unsubscribe();
            }
        } catch (Exception e) {
            log.debug("Unsubscribing: {}", e.toString());
        }
    }

    /**
     * Reads the answer to the pull just sent until {@code limit} messages were taken in all, the server ends the pull
     * (a status message, which the subscription turns into null) or the pull's expiry plus a grace has passed.
     */
    private void readPull(JetStreamSubscription sub, int limit, int[] n, Consumer<Message> sink)
            throws InterruptedException {
        long deadline = System.nanoTime() + maxWait.plus(EXPIRY_GRACE).toNanos();
        while (n[0] < limit) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Message m = sub.nextMessage(Duration.ofNanos(left));
            if (m == null) {
                return;
            }
            if (m.isJetStream()) {
                sink.accept(m);
            }
        }
    }

    /** Hands up to {@code max} messages waiting in the subscription to {@code to}, without waiting for more. */
    private static void drainQueued(JetStreamSubscription sub, int max, Consumer<Message> to) throws InterruptedException {
        int n = 0;
        while (n < max && sub.getPendingMessageCount() > 0) {
            // null: do not wait. A leftover end-of-pull status also reads as null; the count says whether more wait.
            Message m = sub.nextMessage((Duration) null);
            if (m != null && m.isJetStream()) {
                to.accept(m);
                n++;
            }
        }
    }
}
