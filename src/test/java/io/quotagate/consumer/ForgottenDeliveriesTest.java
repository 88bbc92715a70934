package io.quotagate.consumer;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ForgottenDeliveriesTest {

    final ForgottenDeliveries forgotten = new ForgottenDeliveries();

    @Test
    void beforeAnyReconnectAFirstDeliveryIsNew() {
        assertThat(forgotten.mayHaveBeenDelivered(1)).isFalse();
    }

    @Test
    void afterAReconnectWhatTheStreamHeldThenIsLookedUpAndWhatCameLaterIsNot() {
        forgotten.reconnected(1_000);
        assertThat(forgotten.mayHaveBeenDelivered(1_000)).isTrue();
        assertThat(forgotten.mayHaveBeenDelivered(1_001)).isFalse();
    }

    @Test
    void whileTheStreamCannotBeReadEverythingIsLookedUpUntilItCan() {
        forgotten.reconnected(1_000);
        forgotten.reconnected(-1);
        assertThat(forgotten.unknown()).isTrue();
        assertThat(forgotten.mayHaveBeenDelivered(1_000_000)).isTrue();

        forgotten.reconnected(1_200);
        assertThat(forgotten.unknown()).isFalse();
        assertThat(forgotten.mayHaveBeenDelivered(1_200)).isTrue();
        assertThat(forgotten.mayHaveBeenDelivered(1_201)).isFalse();
    }

    @Test
    void aLaterReconnectNeverNarrowsWhatIsLookedUp() {
        forgotten.reconnected(2_000);
        forgotten.reconnected(1_500); // a stream that shrank (or a stale read) must not undo an earlier restart's doubt
        assertThat(forgotten.mayHaveBeenDelivered(2_000)).isTrue();
    }
}
