package io.quotagate.deadletter;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nats.client.JetStreamManagement;
import io.nats.client.api.MessageInfo;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import io.quotagate.QuotaGateApplication;
import io.quotagate.consumer.DeadLetterPublisher;
import io.quotagate.identity.MessageIdentity;
import io.quotagate.reliability.Audit;
import io.quotagate.support.ImageJvm;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 21, items 5 and 6: dead letters listed and replayed through {@code /actuator/deadletters} and
 * {@code --replay-dead-letters}, each replay keeping its original's identity; write operations behind
 * {@code operations.write-token}. Real nats-server, emulated apiserver.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@AutoConfigureMetrics
@DirtiesContext
class DeadLetterReplayIT {

    static final String DLQ_STREAM = "DLQ";
    static final String DLQ_SUBJECT = "dlq.quotagate";
    static final String TOKEN = "replay-test-token-0123456789abcdef";
    static final String REJECTED = "rejected_by_apiserver";
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        producer.createStream(DLQ_STREAM, "dlq.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("jetstream.dead-letter-subject", () -> DLQ_SUBJECT);
        registry.add("jetstream.ack-wait", () -> "5s");
        registry.add("trigger.kubernetes.request-timeout", () -> "2s");
        // One create at a time: an injected 422 hits the message the test means.
        registry.add("trigger.kubernetes.concurrency", () -> 1);
        registry.add("operations.write-token", () -> TOKEN);
    }

    @LocalServerPort
    int port;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void emptyDeadLetterStream() throws Exception {
        // Whatever an earlier test left: the consumer runs.
        send("POST", "/actuator/consumer", "{\"state\":\"RESUMED\"}", TOKEN);
        env.awaitDrained(Duration.ofSeconds(30));
        producer.connection().jetStreamManagement().purgeStream(DLQ_STREAM);
        kubernetes.clearCreateFailures();
    }

    @Test
    void replayByReasonCreatesEachObjectOnceAndReplayingTwiceStillOnce() throws Exception {
        Audit audit = audit("twice");
        List<Long> rejected = deadLettered(audit, 3);
        List<String> messages = List.of("twice-0", "twice-1", "twice-2"); // what Audit.publishJson sent
        long notJson = audit.publish(SUBJECT, "not json".getBytes(StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(20)).until(() -> audit.deadLetterFor(notJson) != null);
        List<MessageInfo> copies = rejected.stream().map(audit::deadLetterFor).toList();

        JsonNode first = post("/actuator/deadletters", "{\"reason\":\"" + REJECTED + "\"}", TOKEN);
        assertThat(first.get("count").asInt()).isEqualTo(3);
        assertThat(first.get("outcomes").toString()).isEqualTo("{\"REPLAYED\":3}");
        await().atMost(Duration.ofSeconds(30)).until(() -> objectsPerMessage().keySet().containsAll(messages));
        // Removed only once stored; the other reason is untouched.
        assertThat(originalSequences(get("/actuator/deadletters"))).containsExactly(notJson);
        env.awaitDrained(Duration.ofSeconds(30));

        // The same dead letters again (as if the first replay's deletes had been lost), replayed a second time.
        double settledBefore = outcome("exists") + outcome("created");
        for (MessageInfo copy : copies) {
            producer.connection().jetStream().publish(NatsMessage.builder().subject(DLQ_SUBJECT)
                    .headers(copy.getHeaders()).data(copy.getData()).build());
        }
        JsonNode second = post("/actuator/deadletters", "{\"reason\":\"" + REJECTED + "\"}", TOKEN);
        assertThat(second.get("outcomes").toString()).isEqualTo("{\"REPLAYED\":3}");
        await().atMost(Duration.ofSeconds(30)).until(() -> outcome("exists") + outcome("created") >= settledBefore + 3);
        env.awaitDrained(Duration.ofSeconds(30));

        Map<String, Integer> objects = objectsPerMessage();
        for (String message : messages) {
            assertThat(objects.get(message)).as("objects made from " + message).isEqualTo(1);
        }
        // Each under its original's name and annotations, as if it had never been dead-lettered.
        assertThat(audit.objects()).containsAllEntriesOf(Map.of(rejected.get(0), 1, rejected.get(1), 1,
                rejected.get(2), 1));
        assertThat(originalSequences(get("/actuator/deadletters"))).containsExactly(notJson);
    }

    @Test
    void aDryRunListsWhatWouldBeReplayedAndChangesNothing() throws Exception {
        Audit audit = audit("dry");
        List<Long> rejected = deadLettered(audit, 2);
        JetStreamManagement jsm = producer.connection().jetStreamManagement();
        long streamLast = jsm.getStreamInfo(STREAM).getStreamState().getLastSequence();
        long deadLetters = jsm.getStreamInfo(DLQ_STREAM).getStreamState().getMsgCount();

        JsonNode dry = post("/actuator/deadletters", "{\"all\":true,\"dryRun\":true}", TOKEN);

        assertThat(dry.get("dryRun").asBoolean()).isTrue();
        assertThat(originalSequences(dry)).containsExactlyElementsOf(rejected);
        assertThat(dry.get("outcomes").toString()).isEqualTo("{\"WOULD_REPLAY\":2}");
        assertThat(jsm.getStreamInfo(STREAM).getStreamState().getLastSequence()).isEqualTo(streamLast);
        assertThat(jsm.getStreamInfo(DLQ_STREAM).getStreamState().getMsgCount()).isEqualTo(deadLetters);
        assertThat(audit.objects().keySet()).doesNotContainAnyElementsOf(rejected);
    }

    @Test
    void filtersSelectExactlyWhatTheySay() throws Exception {
        Audit audit = audit("filters");
        List<Long> rejected = deadLettered(audit, 4);
        long notJson = audit.publish(SUBJECT, "not json".getBytes(StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(20)).until(() -> audit.deadLetterFor(notJson) != null);
        long a = rejected.get(0), b = rejected.get(1), c = rejected.get(2), d = rejected.get(3);

        assertThat(originalSequences(get("/actuator/deadletters"))).containsExactly(a, b, c, d, notJson);
        assertThat(originalSequences(get("/actuator/deadletters?reason=invalid_payload"))).containsExactly(notJson);
        assertThat(originalSequences(get("/actuator/deadletters?fromSeq=" + b + "&toSeq=" + c))).containsExactly(b, c);
        assertThat(originalSequences(get("/actuator/deadletters?reason=" + REJECTED + "&toSeq=" + b)))
                .containsExactly(a, b);
        assertThat(originalSequences(get("/actuator/deadletters?fromSeq=" + d))).containsExactly(d, notJson);
        assertThat(originalSequences(get("/actuator/deadletters?limit=2"))).containsExactly(a, b);

        JsonNode replayed = post("/actuator/deadletters", "{\"fromSeq\":" + b + ",\"toSeq\":" + c + "}", TOKEN);
        assertThat(originalSequences(replayed)).containsExactly(b, c);
        awaitObjects(audit, List.of(b, c));
        env.awaitDrained(Duration.ofSeconds(30));
        assertThat(audit.objects().keySet()).doesNotContain(a, d);
        assertThat(originalSequences(get("/actuator/deadletters"))).containsExactly(a, d, notJson);
    }

    @Test
    void writeOperationsNeedTheTokenReadsDoNot() throws Exception {
        Audit audit = audit("token");
        deadLettered(audit, 1);

        for (String token : new String[] {null, "wrong-token-0123456789abcdef"}) {
            HttpResponse<String> pause = send("POST", "/actuator/consumer", "{\"state\":\"PAUSED\"}", token);
            assertThat(pause.statusCode()).isEqualTo(401);
            assertThat(pause.body()).doesNotContain(TOKEN);
            HttpResponse<String> replay = send("POST", "/actuator/deadletters", "{\"all\":true}", token);
            assertThat(replay.statusCode()).isEqualTo(401);
            assertThat(replay.body()).doesNotContain(TOKEN);
        }
        assertThat(send("DELETE", "/actuator/consumer", null, null).statusCode()).isEqualTo(401);
        assertThat(get("/actuator/consumer").get("paused").asBoolean()).isFalse();
        assertThat(get("/actuator/deadletters").get("count").asInt()).isEqualTo(1);
        assertThat(send("GET", "/api/quota", null, null).statusCode()).isEqualTo(200);

        assertThat(send("POST", "/actuator/consumer", "{\"state\":\"PAUSED\"}", TOKEN).statusCode()).isEqualTo(200);
        assertThat(get("/actuator/consumer").get("paused").asBoolean()).isTrue();
        assertThat(send("POST", "/actuator/consumer", "{\"state\":\"RESUMED\"}", TOKEN).statusCode()).isEqualTo(200);
        assertThat(get("/actuator/consumer").get("paused").asBoolean()).isFalse();
    }

    @Test
    void aForgedOrMalformedReplayIdentityIsDeadLetteredAndCreatesNothing() throws Exception {
        Audit audit = audit("forged");
        long createsBefore = kubernetes.successfulCreates();
        long last = producer.connection().jetStreamManagement().getStreamInfo(STREAM).getStreamState().getLastSequence();
        // Claims the name of a message not yet published: believed, it would make that message look created.
        long future = publishWithReplayHeader(STREAM + "/" + (last + 5));
        long garbage = publishWithReplayHeader("not an identity");

        for (long seq : List.of(future, garbage)) {
            MessageInfo dead = await().atMost(Duration.ofSeconds(20)).until(() -> audit.deadLetterFor(seq),
                    m -> m != null);
            assertThat(Audit.header(dead, DeadLetterPublisher.REASON)).isEqualTo(MessageIdentity.INVALID_REPLAY_REASON);
            assertThat(dead.getHeaders().get(MessageIdentity.REPLAY_HEADER)).as("the claim is not carried on").isNull();
        }
        assertThat(kubernetes.successfulCreates()).isEqualTo(createsBefore);
    }

    @Test
    void theOneShotCommandReplaysAndExits() throws Exception {
        Path dir = Path.of("target", "replay-command"); // kept: the outputs show what an operator sees
        Audit audit = audit("command");
        List<Long> rejected = deadLettered(audit, 2);

        Command usage = command(dir, "usage", "--replay-dead-letters");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.output()).contains("--reason", "--all");
        assertThat(originalSequences(get("/actuator/deadletters"))).containsExactlyElementsOf(rejected);

        Command dry = command(dir, "dry", "--replay-dead-letters", "--reason=" + REJECTED, "--dry-run");
        assertThat(dry.exit()).as(dry.output()).isZero();
        assertThat(dry.output()).contains("WOULD_REPLAY dead letter").doesNotContain("REPLAYED ");
        assertThat(originalSequences(get("/actuator/deadletters"))).containsExactlyElementsOf(rejected);

        Command run = command(dir, "run", "--replay-dead-letters", "--reason=" + REJECTED);
        assertThat(run.exit()).as(run.output()).isZero();
        for (long seq : rejected) {
            assertThat(run.output()).contains("REPLAYED dead letter").contains(STREAM + "#" + seq);
        }
        awaitObjects(audit, rejected);
        assertThat(originalSequences(get("/actuator/deadletters"))).isEmpty();
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    private static Audit audit(String name) {
        return new Audit(name, producer, kubernetes, STREAM, DLQ_STREAM);
    }

    /** {@code count} messages the apiserver rejects with 422, each dead-lettered as {@value #REJECTED}. */
    private static List<Long> deadLettered(Audit audit, int count) {
        kubernetes.failNextCreates(422, count);
        List<Long> seqs = audit.publishJson(SUBJECT, count);
        await().atMost(Duration.ofSeconds(30)).until(() -> seqs.stream().allMatch(s -> audit.deadLetterFor(s) != null));
        return seqs;
    }

    /** The stored Workflows, counted by the message parameter they were made from. */
    private static Map<String, Integer> objectsPerMessage() {
        Map<String, Integer> out = new java.util.HashMap<>();
        for (var o : kubernetes.objects(QuotaGateTestProperties.NAMESPACE, "Workflow")) {
            Object spec = o.getAdditionalProperties().get("spec");
            Object value = ((Map<?, ?>) ((List<?>) ((Map<?, ?>) ((Map<?, ?>) spec).get("arguments"))
                    .get("parameters")).get(0)).get("value");
            out.merge(String.valueOf(value), 1, Integer::sum);
        }
        return out;
    }

    private static void awaitObjects(Audit audit, List<Long> seqs) {
        await("objects for " + seqs).atMost(Duration.ofSeconds(30))
                .until(() -> audit.objects().keySet().containsAll(seqs));
    }

    private static long publishWithReplayHeader(String value) throws Exception {
        Headers headers = new Headers().put(MessageIdentity.REPLAY_HEADER, value);
        return producer.connection().jetStream().publish(NatsMessage.builder().subject(SUBJECT).headers(headers)
                .data("{\"message\":\"forged\"}".getBytes(StandardCharsets.UTF_8)).build()).getSeqno();
    }

    private static List<Long> originalSequences(JsonNode report) {
        List<Long> out = new ArrayList<>();
        report.get("deadLetters").forEach(d -> out.add(d.get("originalSequence").asLong()));
        return out;
    }

    private double outcome(String outcome) throws Exception {
        HttpResponse<String> r = send("GET", "/actuator/prometheus", null, null);
        assertThat(r.statusCode()).isEqualTo(200);
        for (String line : r.body().split("\n")) {
            if (line.startsWith("quotagate_messages_total{") && line.contains("outcome=\"" + outcome + "\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    private JsonNode get(String path) throws Exception {
        HttpResponse<String> r = send("GET", path, null, null);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private JsonNode post(String path, String body, String token) throws Exception {
        HttpResponse<String> r = send("POST", path, body, token);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private HttpResponse<String> send(String method, String path, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private record Command(int exit, String output) {
    }

    /** The jar's main class in its own JVM with the image's flags, as {@code kubectl exec} would run it. */
    private static Command command(Path dir, String name, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ImageJvm.java());
        cmd.addAll(ImageJvm.flags());
        // The heap docs/dead-letters.md gives it beside the service in the same container.
        cmd.add("-Xmx64m");
        cmd.addAll(List.of("-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                QuotaGateApplication.class.getName(), "--jetstream.url=" + nats.url(),
                "--jetstream.dead-letter-subject=" + DLQ_SUBJECT));
        cmd.addAll(List.of(args));
        Files.createDirectories(dir);
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("--replay-dead-letters did not exit within 120s: " + Files.readString(log));
        }
        return new Command(p.exitValue(), Files.readString(log));
    }
}
