// Package partial scales the rollout analysis out over a Kafka consumer
// group: each Member aggregates the partitions the group assigns it, one
// rollout.Aggregator per partition, and publishes each partition's
// partial aggregate to a compacted topic; Read merges the latest partial
// of every partition into one aggregate, whose Report equals the report
// of one process reading the whole events topic.
//
// # Protocol
//
// The events topic is keyed by unit (rollout.KafkaSink), so all of a
// unit's events are in one partition. A partition's partial (Partial)
// is published as one record of the partials topic, keyed
// "experiment/topic/partition" (Key), whose value holds the partition,
// Next (the offset of the first record not covered) and the
// aggregator's MarshalBinary. Everything rests on one invariant:
//
//	a partial is the aggregate of exactly the records of its partition
//	at offsets below its Next.
//
// A member keeps it: it starts a partition from a partial (or from an
// empty aggregate at the partition's start), adds each record at an
// offset at or past Next and moves Next past it, and skips a record below
// Next. So any published partial is a consistent prefix of its partition,
// whoever wrote it and whenever, and a member resuming from any of them
// neither loses nor double-counts a record.
//
// Ownership moves with the group:
//
//   - Assigned: the member reads the partials topic to its end, takes the
//     partition's latest partial (the largest Next; of equal ones the last
//     written), and starts consuming at that partial's Next. The group's
//     committed offset is ignored: it is committed after a partial is
//     acknowledged, only so that lag monitors see progress, and a failure
//     between the two would make it disagree with the partial.
//   - Every Options.Every records or Options.Interval: the member
//     publishes the partial and waits for the brokers' acknowledgement
//     (acks=all).
//   - Revoked (a rebalance, or Run stopping and leaving the group): the
//     member publishes the partition's partial before the revocation
//     completes, so the group hands the partition to its next owner only
//     after that partial is durable; the next owner resumes exactly where
//     it stopped.
//   - Lost (the member missed its session timeout, or crashed): nothing
//     is published; the next owner resumes from the last partial
//     published and consumes the records after it again. A member that
//     lost a partition without knowing it (a zombie) may still publish
//     it; by the invariant its partial is consistent too, and readers
//     take the most complete.
//
// Records the brokers deliver again (a retried fetch) are below Next and
// skipped. Keying the events by unit is not needed for the report to be
// right (Aggregators merge exactly however a unit's events are split), but
// it keeps each unit's state in one partial instead of several. Kafka
// compaction keeps the last written partial per key, not the most
// complete: a zombie writing after the new owner rewinds that partition's
// progress (never its consistency) until the new owner publishes again.
//
// A partials topic holds the partials of one definition of an
// experiment: a member taking over a partition whose partial was
// aggregated under another definition (changed arms or metrics) stops
// with an error; use a new partials topic (or group) for a changed
// experiment. Partitions added to the events topic are assigned like the
// others and start from their beginning.
//
// A partial holds about 100 bytes per unit of its partition; the
// partials topic is created with max.message.bytes 64 MiB (EnsureTopic),
// which bounds a partition to about 600,000 units.
package partial
