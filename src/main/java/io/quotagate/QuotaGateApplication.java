package io.quotagate;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class QuotaGateApplication {
    public static void main(String[] args) {
        SpringApplication.run(QuotaGateApplication.class, args);
    }
}
