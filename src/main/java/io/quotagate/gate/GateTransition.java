package io.quotagate.gate;

import java.time.Instant;

/**
 * A change of the gate between open and closed (or of the reason it is closed).
 *
 * @param at        when it happened
 * @param open      true when the gate opened
 * @param reason    why it closed, null when it opened
 * @param used      the quota's used count at that moment (-1 when unknown)
 * @param inFlight  what this process held at that moment (fetched, creating, or created but not yet observed)
 * @param threshold the threshold at that moment (-1 when unknown)
 */
public record GateTransition(Instant at, boolean open, BlockedReason reason, long used, long inFlight, long threshold) {
}
