/**
 * What the apiserver's ResourceQuota admission charges for an object at its creation, which quotas apply to it, and
 * the requests an object declares (for a limit on active work). Pure Java on fabric8 model classes: no I/O, no
 * Spring. Nothing in the product uses it yet (issue 19 groundwork).
 */
package io.quotagate.cost;
