package io.quotagate.operations;

import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockFilterChain;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

import static org.assertj.core.api.Assertions.assertThat;

class WriteTokenFilterTest {

    private static final String TOKEN = "0123456789abcdef-write";

    /** The status the request ends with, and whether it reached the endpoint. */
    private record Outcome(int status, boolean passed, String body) {
    }

    private static Outcome send(String token, String method, String path, String authorization) throws Exception {
        MockHttpServletRequest request = new MockHttpServletRequest(method, path);
        if (authorization != null) {
            request.addHeader("Authorization", authorization);
        }
        MockHttpServletResponse response = new MockHttpServletResponse();
        MockFilterChain chain = new MockFilterChain();
        new WriteTokenFilter(new OperationsProperties(token)).doFilter(request, response, chain);
        return new Outcome(response.getStatus(), chain.getRequest() != null, response.getContentAsString());
    }

    @Test
    void readsNeverNeedTheToken() throws Exception {
        for (String method : new String[] {"GET", "HEAD"}) {
            assertThat(send(TOKEN, method, "/actuator/consumer", null).passed()).as(method).isTrue();
        }
    }

    @Test
    void everyOtherMethodNeedsTheTokenOnEveryPath() throws Exception {
        for (String method : new String[] {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
            for (String path : new String[] {"/actuator/consumer", "/actuator/consumer/", "/actuator/deadletters",
                    "/actuator//consumer", "/anything"}) {
                Outcome refused = send(TOKEN, method, path, null);
                assertThat(refused.passed()).as(method + " " + path).isFalse();
                assertThat(refused.status()).isEqualTo(401);
            }
        }
    }

    @Test
    void onlyTheExactTokenPasses() throws Exception {
        assertThat(send(TOKEN, "POST", "/actuator/consumer", "Bearer " + TOKEN).passed()).isTrue();
        assertThat(send(TOKEN, "POST", "/actuator/consumer", "bearer " + TOKEN).passed()).isTrue();
        for (String wrong : new String[] {"Bearer", "Bearer ", TOKEN, "Basic " + TOKEN, "Bearer " + TOKEN + "x",
                "Bearer " + TOKEN.substring(1), "Bearer " + TOKEN.toUpperCase()}) {
            Outcome refused = send(TOKEN, "POST", "/actuator/consumer", wrong);
            assertThat(refused.passed()).as(wrong).isFalse();
            // Fixed: nothing of the request or the token is echoed.
            assertThat(refused.body())
                    .isEqualTo("{\"error\":\"write operations need Authorization: Bearer <operations.write-token>\"}");
        }
    }

    @Test
    void withoutATokenWritesAreOpen() throws Exception {
        assertThat(send("", "POST", "/actuator/consumer", null).passed()).isTrue();
    }
}
