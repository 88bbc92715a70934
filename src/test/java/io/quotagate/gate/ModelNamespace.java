package io.quotagate.gate;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A namespace with several ResourceQuotas, each listing some of several resources, as the gate experiences it. Every
 * object charges each resource its cost (as a Pod charges {@code pods} 1 and {@code requests.cpu} 500m); admission
 * checks and charges every quota that lists a resource of it, all or nothing, before the create returns; each quota's
 * controller gives a deleted object's charge back with its own lag. Every change of a quota's status.used is a new
 * version of that quota; a read of it may describe any version from when it was sent to when its response arrives.
 */
final class ModelNamespace {

    final String[] resources;
    final long[] cost;
    /** [quota][resource]; -1 where the quota does not list the resource. */
    final long[][] hard;
    final long[][] used;
    private final List<List<long[]>> history = new ArrayList<>();
    private final long[] pendingDecrements;
    private long objects;
    long rejections;

    ModelNamespace(Random random, int quotas, int resourceCount) {
        resources = new String[resourceCount];
        cost = new long[resourceCount];
        long[] costs = {1, 1, 2, 3, 250, 500};
        for (int r = 0; r < resourceCount; r++) {
            resources[r] = "resource-" + r;
            cost[r] = costs[random.nextInt(costs.length)];
        }
        hard = new long[quotas][resourceCount];
        used = new long[quotas][resourceCount];
        pendingDecrements = new long[quotas];
        for (int q = 0; q < quotas; q++) {
            for (int r = 0; r < resourceCount; r++) {
                // Some quotas list none of the object's resources: they do not apply, and must not block.
                if (random.nextInt(3) == 0) {
                    hard[q][r] = -1;
                    continue;
                }
                hard[q][r] = cost[r] * random.nextInt(random.nextBoolean() ? 4 : 20) + random.nextInt((int) cost[r]);
                // Others' objects: any usage up to the hard limit.
                used[q][r] = hard[q][r] == 0 ? 0 : random.nextLong(hard[q][r] + 1);
            }
            List<long[]> h = new ArrayList<>();
            h.add(used[q].clone());
            history.add(h);
        }
    }

    int quotas() {
        return hard.length;
    }

    static String name(int quota) {
        return "quota-" + quota;
    }

    boolean lists(int quota, int resource) {
        return hard[quota][resource] >= 0;
    }

    /** Quota admission: every quota listing a resource of the object must have room for its cost, or nothing is charged. */
    synchronized boolean create() {
        for (int q = 0; q < quotas(); q++) {
            for (int r = 0; r < resources.length; r++) {
                if (lists(q, r) && used[q][r] + cost[r] > hard[q][r]) {
                    rejections++;
                    return false;
                }
            }
        }
        objects++;
        for (int q = 0; q < quotas(); q++) {
            boolean charged = false;
            for (int r = 0; r < resources.length; r++) {
                if (lists(q, r)) {
                    used[q][r] += cost[r];
                    charged = true;
                }
            }
            if (charged) {
                history.get(q).add(used[q].clone());
            }
        }
        return true;
    }

    /** One of our objects is deleted; each quota's controller will give its charge back. */
    synchronized void delete() {
        if (objects > 0) {
            objects--;
            for (int q = 0; q < quotas(); q++) {
                pendingDecrements[q]++;
            }
        }
    }

    /** One quota's controller catches up with one deletion. */
    synchronized void controller(int q) {
        if (pendingDecrements[q] == 0) {
            return;
        }
        pendingDecrements[q]--;
        boolean changed = false;
        for (int r = 0; r < resources.length; r++) {
            if (lists(q, r)) {
                used[q][r] -= cost[r];
                changed = true;
            }
        }
        if (changed) {
            history.get(q).add(used[q].clone());
        }
    }

    /** The version of quota q a request sent now will see at the earliest. */
    synchronized int version(int q) {
        return history.get(q).size() - 1;
    }

    /** Quota q's readings as of some version from {@code sentAt} to now: what a GET sent at {@code sentAt} may return. */
    synchronized List<LimitReading> readAsOf(int q, int sentAt, Random random) {
        int now = history.get(q).size() - 1;
        int version = switch (random.nextInt(3)) {
            case 0 -> sentAt;
            case 1 -> now;
            default -> sentAt + random.nextInt(now - sentAt + 1);
        };
        return readings(q, history.get(q).get(version));
    }

    synchronized List<LimitReading> read(int q) {
        return readings(q, used[q]);
    }

    private List<LimitReading> readings(int q, long[] usedThen) {
        List<LimitReading> out = new ArrayList<>();
        for (int r = 0; r < resources.length; r++) {
            if (lists(q, r)) {
                out.add(new LimitReading(resources[r], hard[q][r], usedThen[r], cost[r]));
            }
        }
        return out;
    }

    /** Messages every limit still fits by status.used alone; -1 (unlimited) when no quota lists a resource. */
    synchronized long fits(double ratio) {
        long min = Long.MAX_VALUE;
        for (int q = 0; q < quotas(); q++) {
            for (int r = 0; r < resources.length; r++) {
                if (lists(q, r)) {
                    long threshold = CapacityGate.thresholdFor(hard[q][r], java.math.BigDecimal.valueOf(ratio));
                    min = Math.min(min, Math.max(0, Math.floorDiv(threshold - used[q][r], cost[r])));
                }
            }
        }
        return min == Long.MAX_VALUE ? -1 : min;
    }
}
