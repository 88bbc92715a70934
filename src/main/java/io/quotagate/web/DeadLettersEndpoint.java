package io.quotagate.web;

import java.util.Map;

import io.quotagate.deadletter.DeadLetterReplay;
import io.quotagate.deadletter.DeadLetterSelection;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;

/**
 * {@code /actuator/deadletters}: GET lists dead letters ({@code reason}, {@code fromSeq}/{@code toSeq} on the original
 * stream sequence, {@code limit}); POST replays them with the same filters, {@code all=true} when there is none, and
 * {@code dryRun=true} to only list what would be replayed. The work is {@link DeadLetterReplay}'s.
 */
@Endpoint(id = "deadletters")
public class DeadLettersEndpoint {

    private final DeadLetterReplay replay;

    public DeadLettersEndpoint(DeadLetterReplay replay) {
        this.replay = replay;
    }

    @ReadOperation
    public WebEndpointResponse<Map<String, Object>> list(@Nullable String reason, @Nullable Long fromSeq,
                                                         @Nullable Long toSeq, @Nullable Integer limit) {
        DeadLetterSelection selection = selection(reason, fromSeq, toSeq, limit);
        try {
            return new WebEndpointResponse<>(replay.list(selection).view());
        } catch (DeadLetterReplay.Unavailable e) {
            return unavailable(e);
        }
    }

    @WriteOperation
    public WebEndpointResponse<Map<String, Object>> replay(@Nullable String reason, @Nullable Long fromSeq,
                                                           @Nullable Long toSeq, @Nullable Boolean all,
                                                           @Nullable Boolean dryRun, @Nullable Integer limit) {
        DeadLetterSelection selection = selection(reason, fromSeq, toSeq, limit);
        if (selection.everything() != Boolean.TRUE.equals(all)) {
            String message = selection.everything()
                    ? "name reason, fromSeq or toSeq, or set all=true to replay every dead letter"
                    : "all=true replays every dead letter: do not combine it with reason, fromSeq or toSeq";
            throw new InvalidEndpointRequestException(message, message);
        }
        try {
            return new WebEndpointResponse<>(replay.replay(selection, Boolean.TRUE.equals(dryRun)).view());
        } catch (DeadLetterReplay.Unavailable e) {
            return unavailable(e);
        }
    }

    private static DeadLetterSelection selection(String reason, Long fromSeq, Long toSeq, Integer limit) {
        try {
            return DeadLetterSelection.of(reason, fromSeq, toSeq, limit);
        } catch (IllegalArgumentException e) {
            throw new InvalidEndpointRequestException(e.getMessage(), e.getMessage());
        }
    }

    private static WebEndpointResponse<Map<String, Object>> unavailable(DeadLetterReplay.Unavailable e) {
        return new WebEndpointResponse<>(Map.of("error", e.getMessage()), WebEndpointResponse.STATUS_SERVICE_UNAVAILABLE);
    }
}
