// A sarama client for katka's end-to-end tests, built with the sarama Debian ships (1.22.1,
// GOPATH mode, no network) and with current github.com/IBM/sarama (module mode, the Go module
// proxy; the import renamed). Modes:
//   - produce (default): `-count` records with each compression codec but zstd (with `-zstd`,
//     zstd too), one batch per codec
//     (sarama 1.22 leaves the batch header's MaxTimestamp at -1), then consumes the partition
//     from the oldest offset and prints one JSON line per record it read back.
//   - admin: the ClusterAdmin of a client configured as Kafka 0.10.2 creates the topic with a
//     retention.ms (CreateTopics v0); one configured as Kafka 2.1 lists topics (Metadata v0,
//     DescribeConfigs v0), describes its config (DescribeConfigs v0) and the cluster (Metadata
//     v0); the first deletes the topic (DeleteTopics v0). One JSON line per step.
//   - group: a consumer group with sarama's default offset settings (OffsetCommit v1, no
//     retention; OffsetFetch v1; JoinGroup v1, SyncGroup/Heartbeat/LeaveGroup v0) consumes
//     `-count` records of the topic, marks each, and closes (committing); one JSON line per
//     record.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type record struct {
	Offset    int64  `json:"offset"`
	Value     string `json:"value"`
	Timestamp int64  `json:"timestamp_ms"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	broker := flag.String("broker", "127.0.0.1:9092", "bootstrap broker")
	topic := flag.String("topic", "sarama", "topic (one partition)")
	count := flag.Int("count", 5, "records per codec (produce), records to consume (group)")
	mode := flag.String("mode", "produce", "produce, admin or group")
	group := flag.String("group", "sarama-group", "consumer group (group mode)")
	zstd := flag.Bool("zstd", false, "produce a zstd batch too, in Produce v7 (current sarama)")
	flag.Parse()
	switch *mode {
	case "produce":
		produceAndConsume(broker, topic, count, *zstd)
	case "admin":
		administer(*broker, *topic)
	case "group":
		consumeInGroup(*broker, *topic, *group, *count)
	default:
		fail("unknown mode %s", *mode)
	}
}

func produceAndConsume(broker *string, topic *string, count *int, zstd bool) {

	codecs := []struct {
		name  string
		codec sarama.CompressionCodec
	}{
		{"none", sarama.CompressionNone},
		{"gzip", sarama.CompressionGZIP},
		{"snappy", sarama.CompressionSnappy},
		{"lz4", sarama.CompressionLZ4},
		// No zstd by default: sarama 1.22 sends it in Produce v3, which Kafka refuses (KIP-110
		// needs v7); current sarama sends Produce v7 for it when configured as Kafka 2.1.
	}
	if zstd {
		codecs = append(codecs, struct {
			name  string
			codec sarama.CompressionCodec
		}{"zstd", sarama.CompressionZSTD})
	}
	total := 0
	for _, c := range codecs {
		config := sarama.NewConfig()
		config.Version = sarama.V2_1_0_0 // v2 batches (Produce v3, v7 for current sarama's zstd)
		config.Producer.Return.Successes = true
		config.Producer.RequiredAcks = sarama.WaitForAll
		config.Producer.Compression = c.codec
		config.Producer.Retry.Max = 0
		producer, err := sarama.NewSyncProducer([]string{*broker}, config)
		if err != nil {
			fail("producer: %v", err)
		}
		messages := make([]*sarama.ProducerMessage, *count)
		for i := range messages {
			messages[i] = &sarama.ProducerMessage{
				Topic:     *topic,
				Partition: 0,
				Value:     sarama.StringEncoder(fmt.Sprintf("%s-%d", c.name, i)),
				Timestamp: time.Now(),
			}
		}
		if err := producer.SendMessages(messages); err != nil {
			fail("produce %s: %v", c.name, err)
		}
		producer.Close()
		total += *count
	}

	config := sarama.NewConfig()
	config.Version = sarama.V2_1_0_0
	consumer, err := sarama.NewConsumer([]string{*broker}, config)
	if err != nil {
		fail("consumer: %v", err)
	}
	partition, err := consumer.ConsumePartition(*topic, 0, sarama.OffsetOldest)
	if err != nil {
		fail("consume: %v", err)
	}
	encoder := json.NewEncoder(os.Stdout)
	deadline := time.After(30 * time.Second)
	for read := 0; read < total; read++ {
		select {
		case message := <-partition.Messages():
			encoder.Encode(record{message.Offset, string(message.Value), message.Timestamp.UnixNano() / int64(time.Millisecond)})
		case <-deadline:
			fail("consumed %d of %d records", read, total)
		}
	}
	partition.Close()
	consumer.Close()
}

// step is one JSON line of the admin mode.
type step struct {
	Step    string            `json:"step"`
	Error   string            `json:"error,omitempty"`
	Topics  map[string]int32  `json:"topics,omitempty"`
	Configs map[string]string `json:"configs,omitempty"`
	Default map[string]bool   `json:"default,omitempty"`
	Brokers int               `json:"brokers,omitempty"`
}

func clusterAdmin(broker string, version sarama.KafkaVersion) sarama.ClusterAdmin {
	config := sarama.NewConfig()
	config.Version = version
	admin, err := sarama.NewClusterAdmin([]string{broker}, config)
	if err != nil {
		fail("cluster admin: %v", err)
	}
	return admin
}

func administer(broker string, topic string) {
	old := clusterAdmin(broker, sarama.V0_10_2_0) // CreateTopics v0, DeleteTopics v0
	defer old.Close()
	// sarama 1.22 sends DescribeConfigs v0 whatever its version says; it needs 0.11 for it.
	admin := clusterAdmin(broker, sarama.V2_1_0_0)
	defer admin.Close()
	encoder := json.NewEncoder(os.Stdout)
	report := func(s step, err error) {
		if err != nil {
			s.Error = err.Error()
		}
		encoder.Encode(s)
	}

	retention := "123456"
	err := old.CreateTopic(topic, &sarama.TopicDetail{
		NumPartitions:     2,
		ReplicationFactor: 1,
		ConfigEntries:     map[string]*string{"retention.ms": &retention},
	}, false)
	report(step{Step: "create"}, err)

	topics, err := admin.ListTopics()
	listed := step{Step: "list", Topics: map[string]int32{}, Configs: map[string]string{}}
	for name, detail := range topics {
		listed.Topics[name] = detail.NumPartitions
		if name == topic {
			for key, value := range detail.ConfigEntries {
				listed.Configs[key] = *value
			}
		}
	}
	report(listed, err)

	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	described := step{Step: "describe", Configs: map[string]string{}, Default: map[string]bool{}}
	for _, entry := range entries {
		described.Configs[entry.Name] = entry.Value
		described.Default[entry.Name] = entry.Default
	}
	report(described, err)

	brokers, _, err := admin.DescribeCluster()
	report(step{Step: "cluster", Brokers: len(brokers)}, err)

	report(step{Step: "delete"}, old.DeleteTopic(topic))
}

// counter marks every message it reads and cancels the session once it has read `want`.
type counter struct {
	mutex  sync.Mutex
	read   []record
	want   int
	cancel context.CancelFunc
}

func (c *counter) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (c *counter) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (c *counter) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for message := range claim.Messages() {
		session.MarkMessage(message, "")
		c.mutex.Lock()
		c.read = append(c.read, record{message.Offset, string(message.Value), message.Timestamp.UnixNano() / int64(time.Millisecond)})
		if len(c.read) >= c.want {
			c.cancel()
		}
		c.mutex.Unlock()
	}
	return nil
}

func consumeInGroup(broker string, topic string, group string, count int) {
	config := sarama.NewConfig()
	config.Version = sarama.V2_1_0_0
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	// Consumer.Offsets.Retention stays 0: sarama commits with OffsetCommit v1.
	consumerGroup, err := sarama.NewConsumerGroup([]string{broker}, group, config)
	if err != nil {
		fail("consumer group: %v", err)
	}
	go func() {
		for err := range consumerGroup.Errors() {
			fmt.Fprintf(os.Stderr, "group error: %v\n", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	handler := &counter{want: count, cancel: cancel}
	for ctx.Err() == nil {
		if err := consumerGroup.Consume(ctx, []string{topic}, handler); err != nil {
			fail("consume: %v", err)
		}
	}
	if err := consumerGroup.Close(); err != nil {
		fail("close: %v", err)
	}
	handler.mutex.Lock()
	defer handler.mutex.Unlock()
	if len(handler.read) < count {
		fail("consumed %d of %d records", len(handler.read), count)
	}
	sort.Slice(handler.read, func(i, j int) bool { return handler.read[i].Offset < handler.read[j].Offset })
	encoder := json.NewEncoder(os.Stdout)
	for _, r := range handler.read {
		encoder.Encode(r)
	}
}
