// A segmentio kafka-go client for katka's end-to-end tests, built with the kafka-go Debian ships
// (0.2.1, GOPATH mode, no network). kafka-go 0.2.1 speaks only Produce v2 and Fetch v2, with
// message format v1 (magic 1). It writes `-count` messages with each codec (none, gzip, snappy,
// lz4), one WriteMessages call per codec, then a reader in consumer group `-group` reads them
// all, commits them, and prints one JSON line per message in offset order.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

type record struct {
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Timestamp int64  `json:"timestamp_ms"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	broker := flag.String("broker", "127.0.0.1:9092", "bootstrap broker")
	topic := flag.String("topic", "kafkago", "topic (one partition)")
	group := flag.String("group", "kafkago-group", "consumer group")
	count := flag.Int("count", 3, "messages per codec")
	flag.Parse()

	codecs := []struct {
		name  string
		codec kafka.CompressionCodec
	}{
		{"none", nil},
		{"gzip", gzip.NewCompressionCodec()},
		{"snappy", snappy.NewCompressionCodec()},
		{"lz4", lz4.NewCompressionCodec()},
	}
	total := 0
	for _, c := range codecs {
		writer := kafka.NewWriter(kafka.WriterConfig{
			Brokers:          []string{*broker},
			Topic:            *topic,
			BatchSize:        *count,
			BatchTimeout:     50 * time.Millisecond,
			RequiredAcks:     -1,
			CompressionCodec: c.codec,
		})
		messages := make([]kafka.Message, *count)
		for i := range messages {
			messages[i] = kafka.Message{
				Key:   []byte(fmt.Sprintf("k%d", i)),
				Value: []byte(fmt.Sprintf("%s-%d", c.name, i)),
				Time:  time.Now(),
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := writer.WriteMessages(ctx, messages...); err != nil {
			fail("write %s: %v", c.name, err)
		}
		cancel()
		writer.Close()
		total += *count
	}

	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        []string{*broker},
		GroupID:        *group,
		Topic:          *topic,
		MinBytes:       1,
		MaxBytes:       1 << 20,
		MaxWait:        200 * time.Millisecond,
		SessionTimeout: 10 * time.Second,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var read []record
	for len(read) < total {
		message, err := reader.FetchMessage(ctx)
		if err != nil {
			fail("fetch after %d of %d: %v", len(read), total, err)
		}
		if err := reader.CommitMessages(ctx, message); err != nil {
			fail("commit: %v", err)
		}
		read = append(read, record{message.Offset, string(message.Key), string(message.Value), message.Time.UnixNano() / int64(time.Millisecond)})
	}
	if err := reader.Close(); err != nil {
		fail("close: %v", err)
	}
	sort.Slice(read, func(i, j int) bool { return read[i].Offset < read[j].Offset })
	encoder := json.NewEncoder(os.Stdout)
	for _, r := range read {
		encoder.Encode(r)
	}
}
