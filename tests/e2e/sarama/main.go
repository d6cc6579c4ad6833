// A sarama client for katka's end-to-end tests, built with the sarama Debian ships (1.22.1,
// GOPATH mode, no network). It produces `-count` records with each compression codec, in one
// batch per codec (sarama 1.22 leaves the batch header's MaxTimestamp at -1), then consumes
// the partition from the oldest offset and prints one JSON line per record it read back.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
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
	count := flag.Int("count", 5, "records per codec")
	flag.Parse()

	codecs := []struct {
		name  string
		codec sarama.CompressionCodec
	}{
		{"none", sarama.CompressionNone},
		{"gzip", sarama.CompressionGZIP},
		{"snappy", sarama.CompressionSnappy},
		{"lz4", sarama.CompressionLZ4},
		{"zstd", sarama.CompressionZSTD},
	}
	total := 0
	for _, c := range codecs {
		config := sarama.NewConfig()
		config.Version = sarama.V2_1_0_0 // v2 batches; zstd needs 2.1
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
