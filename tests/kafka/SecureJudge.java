// The Java client (kafka-clients) as a judge of katka's security: with the client properties in
// CONFIG (security.protocol, SASL/SSL settings), produce COUNT records to TOPIC, pausing PAUSE_MS
// halfway (to outlive a session lifetime, KIP-368), then consume the partition to its end in
// GROUP and commit.
// Prints "produced=N", "consumed=N" and "committed=N", or "error=<exception class>: <message>".
// Run as a single-file source program:
//   java -cp <kafka libs> SecureJudge.java CONFIG TOPIC GROUP COUNT PAUSE_MS
import java.io.FileReader;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class SecureJudge {
    public static void main(String[] args) throws Exception {
        Properties base = new Properties();
        try (FileReader reader = new FileReader(args[0])) {
            base.load(reader);
        }
        String topic = args[1], group = args[2];
        int count = Integer.parseInt(args[3]);
        long pauseMs = Long.parseLong(args[4]);
        try {
            Properties p = new Properties();
            p.putAll(base);
            p.put("key.serializer", StringSerializer.class.getName());
            p.put("value.serializer", StringSerializer.class.getName());
            p.put("delivery.timeout.ms", "30000");
            p.put("request.timeout.ms", "20000");
            p.put("max.block.ms", "20000");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
                for (int i = 0; i < count; i++) {
                    if (i == count / 2 && pauseMs > 0) {
                        Thread.sleep(pauseMs);
                    }
                    producer.send(new ProducerRecord<>(topic, 0, "k", "record-" + i)).get();
                }
            }
            System.out.println("produced=" + count);

            Properties c = new Properties();
            c.putAll(base);
            c.put("group.id", group);
            c.put("enable.auto.commit", "false");
            c.put("key.deserializer", StringDeserializer.class.getName());
            c.put("value.deserializer", StringDeserializer.class.getName());
            c.put("default.api.timeout.ms", "20000");
            int consumed = 0;
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
                TopicPartition tp = new TopicPartition(topic, 0);
                consumer.assign(List.of(tp));
                consumer.seekToBeginning(List.of(tp));
                long end = consumer.endOffsets(List.of(tp)).get(tp);
                long deadline = System.currentTimeMillis() + 30000;
                while (consumer.position(tp) < end && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                        if (!r.value().startsWith("record-")) {
                            throw new IllegalStateException("unexpected record " + r.value());
                        }
                        consumed++;
                    }
                }
                System.out.println("consumed=" + consumed);
                consumer.commitSync(Map.of(tp, new OffsetAndMetadata(consumed)));
                long committed = consumer.committed(java.util.Set.of(tp)).get(tp).offset();
                System.out.println("committed=" + committed);
            }
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            System.out.println("error=" + cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
    }
}
