package io.quotagate.operations;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses every request that is not GET or HEAD unless it carries {@code Authorization: Bearer <operations.write-token>}.
 * Today those are the actuator's write operations (pause/resume, dead-letter replay); guarding by method rather than
 * by path leaves no path spelling (a trailing slash, an encoded segment, a new endpoint) that slips past it.
 * <p>
 * A refusal is {@code 401} with {@code WWW-Authenticate: Bearer} and a fixed body: nothing of the request or the
 * token is echoed. The comparison takes the same time wherever the tokens differ.
 */
public final class WriteTokenFilter extends OncePerRequestFilter {

    private static final String PREFIX = "Bearer ";
    private final byte[] expected;

    public WriteTokenFilter(OperationsProperties properties) {
        this.expected = properties.writeToken().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String method = request.getMethod();
        return expected.length == 0 || "GET".equals(method) || "HEAD".equals(method);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (authorized(request.getHeader("Authorization"))) {
            chain.doFilter(request, response);
            return;
        }
        response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
        response.setHeader("WWW-Authenticate", "Bearer realm=\"quotagate\"");
        response.setContentType("application/json");
        response.getWriter().write("{\"error\":\"write operations need Authorization: Bearer <operations.write-token>\"}");
    }

    private boolean authorized(String header) {
        if (header == null || !header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return false;
        }
        byte[] presented = header.substring(PREFIX.length()).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(presented, expected);
    }
}
