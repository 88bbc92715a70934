package io.quotagate.reliability;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nats.client.NKey;
import io.nats.client.support.JwtUtils;
import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.consumer.NatsConnection;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * NATS authentication and TLS, each against a nats-server configured for it: token, user/password, an NKey
 * credentials file, an operator/account/user JWT .creds file, TLS with a PEM CA file (the chart's shape) and with a PKCS12 trust store, mutual TLS against a
 * server that demands a client certificate (PEM files and a PKCS12 key store). Wrong credentials do not connect, and
 * no secret reaches the log. The service's {@link NatsConnection} is used as the service builds
 * it, from bound {@code jetstream.*} properties.
 */
@ExtendWith(OutputCaptureExtension.class)
class NatsSecurityIT {

    static final String TOKEN = "t0ken-s3cret-4711";
    static final String PASSWORD = "pa55-s3cret-0815";
    static final String KEY_STORE_PASSWORD = "k3ystore-s3cret-2024";

    @TempDir
    static Path dir;

    static Path caPem;
    static Path trustStore;
    static Path serverCert;
    static Path serverKey;
    static Path clientCert;
    static Path clientKey;
    static Path clientKeyStore;

    @BeforeAll
    static void certificates() throws Exception {
        keytool("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=quotagate-test-ca",
                "-ext", "bc:c", "-validity", "2", "-keystore", "ca.p12", "-storetype", "PKCS12", "-storepass", "changeit");
        keytool("-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=127.0.0.1",
                "-validity", "2", "-keystore", "server.p12", "-storetype", "PKCS12", "-storepass", "changeit");
        keytool("-certreq", "-alias", "server", "-keystore", "server.p12", "-storepass", "changeit", "-file", "server.csr");
        keytool("-gencert", "-alias", "ca", "-keystore", "ca.p12", "-storepass", "changeit", "-infile", "server.csr",
                "-outfile", "server.pem", "-rfc", "-ext", "san=ip:127.0.0.1", "-validity", "2");
        keytool("-exportcert", "-alias", "ca", "-keystore", "ca.p12", "-storepass", "changeit", "-rfc", "-file", "ca.pem");
        keytool("-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "trust.p12",
                "-storetype", "PKCS12", "-storepass", "trustpw");
        serverKey = pemPrivateKey("server.p12", "changeit", "server", "server-key.pem");
        serverCert = dir.resolve("server.pem");
        caPem = dir.resolve("ca.pem");
        trustStore = dir.resolve("trust.p12");

        // A client certificate from the same CA, for a server that demands one (--tlsverify): as PEM files (what a
        // Kubernetes TLS Secret holds) and as a PKCS12 key store whose chain includes the CA.
        keytool("-genkeypair", "-alias", "client", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=quotagate",
                "-validity", "2", "-keystore", "client.p12", "-storetype", "PKCS12", "-storepass", KEY_STORE_PASSWORD);
        keytool("-certreq", "-alias", "client", "-keystore", "client.p12", "-storepass", KEY_STORE_PASSWORD,
                "-file", "client.csr");
        keytool("-gencert", "-alias", "ca", "-keystore", "ca.p12", "-storepass", "changeit", "-infile", "client.csr",
                "-outfile", "client.pem", "-rfc", "-ext", "eku=clientAuth", "-validity", "2");
        keytool("-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "client.p12",
                "-storepass", KEY_STORE_PASSWORD);
        keytool("-importcert", "-noprompt", "-alias", "client", "-file", "client.pem", "-keystore", "client.p12",
                "-storepass", KEY_STORE_PASSWORD);
        clientKey = pemPrivateKey("client.p12", KEY_STORE_PASSWORD, "client", "client-key.pem");
        clientCert = dir.resolve("client.pem");
        clientKeyStore = dir.resolve("client.p12");
    }

    /** The PKCS#8 PEM of a key that keytool keeps in a PKCS12 store (keytool cannot export private keys). */
    private static Path pemPrivateKey(String store, String password, String alias, String pemFile) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(dir.resolve(store))) {
            ks.load(in, password.toCharArray());
        }
        byte[] pkcs8 = ks.getKey(alias, password.toCharArray()).getEncoded();
        return Files.writeString(dir.resolve(pemFile), "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(pkcs8) + "\n-----END PRIVATE KEY-----\n");
    }

    private static void keytool(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("keytool"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(cmd + ": " + new String(p.getInputStream().readAllBytes()));
        }
    }

    static JetStreamProperties properties(String url, Map<String, String> extra) {
        Map<String, String> map = new HashMap<>(extra);
        map.put("jetstream.url", url);
        map.put("jetstream.reconnect-wait", "200ms");
        return new Binder(new MapConfigurationPropertySource(map)).bindOrCreate("jetstream", JetStreamProperties.class);
    }

    /** Connects the service's way and proves JetStream answers over the connection. */
    static void assertConnects(String url, Map<String, String> extra) throws Exception {
        try (NatsConnection connection = new NatsConnection(properties(url, extra))) {
            connection.open();
            await().atMost(Duration.ofSeconds(15)).until(connection::isConnected);
            assertThat(connection.connection().jetStreamManagement().getAccountStatistics()).isNotNull();
        }
    }

    static void assertDoesNotConnect(String url, Map<String, String> extra) throws Exception {
        try (NatsConnection connection = new NatsConnection(properties(url, extra))) {
            connection.open();
            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(3)).until(() -> !connection.isConnected());
        }
    }

    @Test
    void tokenAuthentication(CapturedOutput output) throws Exception {
        try (NatsServer server = NatsServer.started("--auth", TOKEN)) {
            assertConnects(server.url(), Map.of("jetstream.token", TOKEN));
            assertDoesNotConnect(server.url(), Map.of("jetstream.token", "wrong-" + TOKEN));
        }
        assertThat(output.getAll()).doesNotContain(TOKEN);
    }

    @Test
    void userAndPasswordAuthentication(CapturedOutput output) throws Exception {
        try (NatsServer server = NatsServer.started("--user", "quotagate", "--pass", PASSWORD)) {
            assertConnects(server.url(), Map.of("jetstream.username", "quotagate", "jetstream.password", PASSWORD));
            assertDoesNotConnect(server.url(), Map.of("jetstream.username", "quotagate", "jetstream.password", "nope"));
        }
        assertThat(output.getAll()).doesNotContain(PASSWORD);
    }

    @Test
    void nkeyCredentialsFile(CapturedOutput output) throws Exception {
        NKey user = NKey.createUser(null);
        String seed = new String(user.getSeed());
        Path conf = Files.writeString(dir.resolve("nkey.conf"),
                "authorization { users = [ { nkey: \"" + new String(user.getPublicKey()) + "\" } ] }\n");
        Path creds = Files.writeString(dir.resolve("user.creds"),
                "-----BEGIN USER NKEY SEED-----\n" + seed + "\n------END USER NKEY SEED------\n");
        try (NatsServer server = NatsServer.started("-c", conf.toString())) {
            assertConnects(server.url(), Map.of("jetstream.credentials-file", creds.toString()));
            NKey other = NKey.createUser(null);
            Path wrong = Files.writeString(dir.resolve("other.creds"),
                    "-----BEGIN USER NKEY SEED-----\n" + new String(other.getSeed()) + "\n------END USER NKEY SEED------\n");
            assertDoesNotConnect(server.url(), Map.of("jetstream.credentials-file", wrong.toString()));
        }
        assertThat(output.getAll()).doesNotContain(seed);
    }

    /**
     * Decentralized auth as {@code nsc} sets it up, with the JWTs signed here by jnats' own NKey and JwtUtils: a
     * self-signed operator with its system account, an account signed by the operator with JetStream enabled (JetStream is on for an account
     * only if its JWT gives it non-zero storage limits), a user signed by the account, and a standard .creds file.
     */
    @Test
    void operatorAndAccountJwtCredentialsFile(CapturedOutput output) throws Exception {
        NKey operator = NKey.createOperator(null);
        NKey account = NKey.createAccount(null);
        NKey user = NKey.createUser(null);
        String operatorPub = new String(operator.getPublicKey());
        String accountPub = new String(account.getPublicKey());
        String seed = new String(user.getSeed());

        // JetStream will not start in operator mode without a system account for its internal subscriptions.
        NKey system = NKey.createAccount(null);
        String systemPub = new String(system.getPublicKey());
        String operatorJwt = jwt(operator, operatorPub, "quotagate-test-operator",
                "{\"system_account\":\"" + systemPub + "\",\"type\":\"operator\",\"version\":2}");
        String systemJwt = jwt(operator, systemPub, "SYS", "{\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,"
                + "\"imports\":-1,\"exports\":-1,\"wildcards\":true,\"conn\":-1,\"leaf\":-1},"
                + "\"type\":\"account\",\"version\":2}");
        // -1 is "no limit" in every field; a missing or 0 limit would mean none allowed (conn: 0 refuses every client).
        String accountJwt = jwt(operator, accountPub, "QUOTAGATE", "{\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,"
                + "\"imports\":-1,\"exports\":-1,\"wildcards\":true,\"conn\":-1,\"leaf\":-1,"
                + "\"mem_storage\":-1,\"disk_storage\":-1,\"streams\":-1,\"consumer\":-1},"
                + "\"default_permissions\":{\"pub\":{},\"sub\":{}},\"type\":\"account\",\"version\":2}");
        String userJwt = JwtUtils.issueUserJWT(account, accountPub, new String(user.getPublicKey()), "quotagate");
        Path creds = Files.writeString(dir.resolve("jwt-user.creds"), String.format(JwtUtils.NATS_USER_JWT_FORMAT, userJwt, seed));

        Path operatorFile = Files.writeString(dir.resolve("operator.jwt"), operatorJwt);
        // JetStream itself comes from NatsServer's -js -sd flags, which take precedence over a config file.
        Path conf = Files.writeString(dir.resolve("operator.conf"), "operator: \"" + operatorFile + "\"\n"
                + "resolver: MEMORY\n"
                + "system_account: " + systemPub + "\n"
                + "resolver_preload: {\n  " + accountPub + ": \"" + accountJwt + "\"\n  " + systemPub + ": \"" + systemJwt
                + "\"\n}\n");

        // A user of another account, which this operator never signed: refused.
        NKey otherAccount = NKey.createAccount(null);
        NKey otherUser = NKey.createUser(null);
        String otherJwt = JwtUtils.issueUserJWT(otherAccount, new String(otherAccount.getPublicKey()),
                new String(otherUser.getPublicKey()), "intruder");
        Path otherCreds = Files.writeString(dir.resolve("other-account.creds"),
                String.format(JwtUtils.NATS_USER_JWT_FORMAT, otherJwt, new String(otherUser.getSeed())));

        try (NatsServer server = NatsServer.started("-c", conf.toString())) {
            // assertConnects asks JetStream for the account's statistics: the account JWT really enabled it.
            assertConnects(server.url(), Map.of("jetstream.credentials-file", creds.toString()));
            assertDoesNotConnect(server.url(), Map.of("jetstream.credentials-file", otherCreds.toString()));
        }
        assertThat(output.getAll()).doesNotContain(seed);
    }

    private static String jwt(NKey signer, String subject, String name, String natsClaims) throws Exception {
        return JwtUtils.issueJWT(signer, subject, name, null, JwtUtils.currentTimeSeconds(),
                new String(signer.getPublicKey()), () -> natsClaims);
    }

    @Test
    void tlsWithAPemCaFileAsTheHelmChartWritesIt() throws Exception {
        try (NatsServer server = NatsServer.started("--tls", "--tlscert", serverCert.toString(), "--tlskey", serverKey.toString())) {
            assertConnects("tls://127.0.0.1:" + server.port(),
                    Map.of("jetstream.tls.enabled", "true", "jetstream.tls.ca-file", caPem.toString()));
            // Without the CA the server's certificate is not trusted.
            assertDoesNotConnect("tls://127.0.0.1:" + server.port(), Map.of("jetstream.tls.enabled", "true"));
        }
    }

    @Test
    void tlsWithAPkcs12TrustStore(CapturedOutput output) throws Exception {
        try (NatsServer server = NatsServer.started("--tls", "--tlscert", serverCert.toString(), "--tlskey", serverKey.toString())) {
            assertConnects("tls://127.0.0.1:" + server.port(), Map.of("jetstream.tls.enabled", "true",
                    "jetstream.tls.trust-store", trustStore.toString(), "jetstream.tls.trust-store-password", "trustpw"));
        }
        assertThat(output.getAll()).doesNotContain("trustpw");
    }

    /** A server that demands a client certificate (--tlsverify), as a NATS cluster with mTLS-only clients runs. */
    static NatsServer mutualTlsServer() {
        return NatsServer.started("--tlsverify", "--tlscacert", caPem.toString(), "--tlscert", serverCert.toString(),
                "--tlskey", serverKey.toString());
    }

    @Test
    void mutualTlsWithPemClientCertificateAsTheHelmChartWritesIt() throws Exception {
        try (NatsServer server = mutualTlsServer()) {
            String url = "tls://127.0.0.1:" + server.port();
            assertConnects(url, Map.of("jetstream.tls.enabled", "true", "jetstream.tls.ca-file", caPem.toString(),
                    "jetstream.tls.cert-file", clientCert.toString(), "jetstream.tls.key-file", clientKey.toString()));
            // The server really demands the certificate: the same trust without one is refused.
            assertDoesNotConnect(url, Map.of("jetstream.tls.enabled", "true", "jetstream.tls.ca-file", caPem.toString()));
        }
    }

    @Test
    void mutualTlsWithAPkcs12KeyStore(CapturedOutput output) throws Exception {
        try (NatsServer server = mutualTlsServer()) {
            String url = "tls://127.0.0.1:" + server.port();
            assertConnects(url, Map.of("jetstream.tls.enabled", "true",
                    "jetstream.tls.trust-store", trustStore.toString(), "jetstream.tls.trust-store-password", "trustpw",
                    "jetstream.tls.key-store", clientKeyStore.toString(),
                    "jetstream.tls.key-store-password", KEY_STORE_PASSWORD));
            assertDoesNotConnect(url, Map.of("jetstream.tls.enabled", "true",
                    "jetstream.tls.trust-store", trustStore.toString(), "jetstream.tls.trust-store-password", "trustpw"));
        }
        assertThat(output.getAll()).doesNotContain(KEY_STORE_PASSWORD);
    }
}
