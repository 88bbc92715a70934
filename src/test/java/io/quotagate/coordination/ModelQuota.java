package io.quotagate.coordination;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitReading;

/**
 * One ResourceQuota as the replicas experience it: admission charges every listed resource before a create returns
 * (and refuses one that would pass {@code hard}), the quota controller gives usage back some time after an object is
 * gone, and a GET describes {@code status.used} as of some moment between when it was sent and when it answered.
 */
final class ModelQuota {

    final String[] resources;
    final long[] hard;
    /** What one message's object charges each resource. */
    final long[] cost;
    final long[] threshold;
    /** status.used per resource. */
    final long[] used;
    /** Objects stored now (used may lag behind their deletion). */
    int objects;
    private int pendingDeletes;
    int rejections;
    /** status.used after each change; index = version. */
    private final List<long[]> history = new ArrayList<>();

    ModelQuota(String[] resources, long[] hard, long[] cost, BigDecimal ratio, int objects) {
        this.resources = resources;
        this.hard = hard;
        this.cost = cost;
        this.threshold = new long[hard.length];
        this.used = new long[hard.length];
        for (int i = 0; i < hard.length; i++) {
            threshold[i] = CapacityGate.thresholdFor(hard[i], ratio);
            used[i] = cost[i] * objects;
        }
        this.objects = objects;
        history.add(used.clone());
    }

    /** Admission: false (and a 403 counted) when any resource would pass its hard limit. */
    boolean admit() {
        for (int i = 0; i < hard.length; i++) {
            if (used[i] + cost[i] > hard[i]) {
                rejections++;
                return false;
            }
        }
        for (int i = 0; i < hard.length; i++) {
            used[i] += cost[i];
        }
        objects++;
        history.add(used.clone());
        return true;
    }

    /** An object is deleted; the controller gives its usage back later ({@link #controller}). */
    void finish() {
        if (objects > 0) {
            objects--;
            pendingDeletes++;
        }
    }

    /** The quota controller recounts one deletion. */
    void controller() {
        if (pendingDeletes > 0) {
            pendingDeletes--;
            for (int i = 0; i < hard.length; i++) {
                used[i] -= cost[i];
            }
            history.add(used.clone());
        }
    }

    int pendingDeletes() {
        return pendingDeletes;
    }

    /** The version a GET sent now sees at the earliest. */
    int version() {
        return history.size() - 1;
    }

    /** What a GET sent at version {@code sentAt} answers now: the limits as of some version since. */
    List<LimitReading> readAsOf(int sentAt, Random random) {
        int now = history.size() - 1;
        // The extremes are the interesting cases: as stale as allowed, or as fresh as possible.
        int version = switch (random.nextInt(3)) {
            case 0 -> sentAt;
            case 1 -> now;
            default -> sentAt + random.nextInt(now - sentAt + 1);
        };
        long[] u = history.get(version);
        List<LimitReading> out = new ArrayList<>();
        for (int i = 0; i < hard.length; i++) {
            out.add(new LimitReading(resources[i], hard[i], u[i], cost[i]));
        }
        return out;
    }

    /** The first resource where used + cost × {@code outstanding} passes the threshold, or -1. */
    int overshoot(long outstanding) {
        for (int i = 0; i < hard.length; i++) {
            if (outstanding > 0 && used[i] + cost[i] * outstanding > threshold[i]) {
                return i;
            }
        }
        return -1;
    }

    String describe() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < hard.length; i++) {
            b.append(i == 0 ? "" : ", ").append(resources[i]).append(" used ").append(used[i]).append('/')
                    .append(threshold[i]).append(" (hard ").append(hard[i]).append(", cost ").append(cost[i])
                    .append(')');
        }
        return b + ", objects " + objects + ", deletes pending " + pendingDeletes;
    }
}
