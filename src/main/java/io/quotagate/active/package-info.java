/**
 * The limit on active work (issue 19, item 4): objects of the trigger resource that exist and have not finished, and
 * the sum of their declared requests, counted by an informer and fed to the gate as the source {@code "(active)"}.
 */
package io.quotagate.active;
