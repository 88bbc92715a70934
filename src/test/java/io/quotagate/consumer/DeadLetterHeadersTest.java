package io.quotagate.consumer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import io.nats.client.impl.Headers;
import io.quotagate.trigger.InboundMessage;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Dead letters for any payload and any error text: every header value is one NATS accepts. */
class DeadLetterHeadersTest {

    private static InboundMessage message(byte[] data, Map<String, List<String>> headers) {
        return new InboundMessage("EVENTS", 42, "events.in", data, headers, 3, "2026-12-01T20:14:08.123Z");
    }

    @Test
    void anErrorQuotingBinaryBytesBecomesAPrintableHeaderAndThePayloadIsUntouched() {
        byte[] payload = {0, (byte) 0xff, (byte) 0xfe, '\r', '\n', 'x', 0x7f};
        String error = "Unexpected character (" + new String(payload, StandardCharsets.UTF_8) + "): line 1\r\nnext";

        Headers headers = DeadLetterPublisher.headersFor(message(payload, Map.of()), "invalid_payload", error);

        String value = headers.getFirst(DeadLetterPublisher.ERROR);
        assertThat(value).matches("[\\x20-\\x7e]*").contains("Unexpected character").contains("\\u0000")
                .contains("\\ufffd").doesNotContain("\r").doesNotContain("\n");
        assertThat(headers.getFirst(DeadLetterPublisher.REASON)).isEqualTo("invalid_payload");
        assertThat(headers.getFirst(DeadLetterPublisher.STREAM_SEQUENCE)).isEqualTo("42");
        assertThat(headers.getFirst(DeadLetterPublisher.STREAM_IDENTITY)).isEqualTo("2026-12-01T20:14:08.123Z");
        assertThat(headers.getFirst(DeadLetterPublisher.DELIVERY_COUNT)).isEqualTo("3");
    }

    @Test
    void aHugeErrorIsCappedAndNonAsciiTextIsEscapedNotDropped() {
        String error = "ü".repeat(10_000);

        String value = DeadLetterPublisher.headersFor(message(new byte[0], Map.of()), "r", error)
                .getFirst(DeadLetterPublisher.ERROR);

        assertThat(value).hasSizeLessThanOrEqualTo(DeadLetterPublisher.MAX_VALUE_LENGTH).startsWith("\\u00fc\\u00fc");
    }

    @Test
    void theProducersHeadersTravelExceptNatsAndQuotaGateOnes() {
        Map<String, List<String>> original = Map.of(
                "Ce-Type", List.of("order.created"),
                "Nats-Msg-Id", List.of("abc"),
                "QuotaGate-Reason", List.of("forged"),
                "X-Binary", List.of("a\u0001b"));

        Headers headers = DeadLetterPublisher.headersFor(message(new byte[0], original), "poison", "e");

        assertThat(headers.getFirst("Ce-Type")).isEqualTo("order.created");
        assertThat(headers.containsKey("Nats-Msg-Id")).isFalse();
        assertThat(headers.getFirst(DeadLetterPublisher.REASON)).isEqualTo("poison");
        assertThat(headers.getFirst("X-Binary")).isEqualTo("a\\u0001b");
    }

    @Test
    void nullTextsBecomeEmptyValues() {
        Headers headers = DeadLetterPublisher.headersFor(
                new InboundMessage(null, 1, null, null, null, 1, null), null, null);

        assertThat(headers.getFirst(DeadLetterPublisher.ERROR)).isEmpty();
        assertThat(headers.containsKey(DeadLetterPublisher.STREAM_IDENTITY)).isFalse();
    }
}
