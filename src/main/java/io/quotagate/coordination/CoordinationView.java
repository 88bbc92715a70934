package io.quotagate.coordination;

import java.time.Instant;
import java.util.List;

/**
 * The replicas' coordination as {@code /api/quota.coordination} shows it. Read-only.
 *
 * @param state   {@code ok}, {@code starting} (the shared state not read yet) or {@code failing}
 * @param bucket  the KV bucket the replicas share
 * @param lease   the lease, in seconds
 * @param self    this process's member id
 * @param reader  the member that reads the quotas for all
 * @param error   why coordination fails, null while it works
 * @param members every member, least id first
 * @param departed members removed for silence (or stopped) whose share still counts, until a reading of each quota
 *                 started after {@code until}
 */
public record CoordinationView(String state, String bucket, long lease, String self, String reader, String error,
                               List<Member> members, List<Departed> departed) {

    /** A removed member's share that still counts. */
    public record Departed(String id, List<Share> shares, Instant until) {
    }

    /**
     * One replica.
     *
     * @param id            its member id (host name and a random suffix)
     * @param reader        true for the member that reads the quotas
     * @param permits       messages its share of the limit that binds this process holds (-1: no such limit yet)
     * @param shares        per limit, the units it holds: beyond the newest reading, fetched, creating, or created
     *                      but not in that reading yet, plus room it was given and not used
     * @param wish          true while its fetches come up short
     * @param lastHeartbeat when its heartbeat was last seen to change (this process's clock); null before
     */
    public record Member(String id, boolean reader, long permits, List<Share> shares, boolean wish,
                         Instant lastHeartbeat) {
    }

    /** A member's units of one limit. */
    public record Share(String source, String resource, long units) {
    }
}
