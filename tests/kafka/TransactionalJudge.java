// The Java client (kafka-clients) as a judge of katka's transactions: commit, abort, fencing,
// and read_committed. Run as a single-file source program: java -cp <kafka libs> TransactionalJudge.java BOOTSTRAP TOPIC
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TransactionalJudge {
    static KafkaProducer<String, String> producer(String bootstrap, String transactionalId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("transactional.id", transactionalId);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        KafkaProducer<String, String> producer = new KafkaProducer<>(p);
        producer.initTransactions();
        return producer;
    }

    static List<String> read(String bootstrap, String topic, String isolation) {
        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("isolation.level", isolation);
        c.put("key.deserializer", StringDeserializer.class.getName());
        c.put("value.deserializer", StringDeserializer.class.getName());
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            long deadline = System.currentTimeMillis() + 15000;
            while (consumer.position(tp) < end && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                }
            }
        }
        return values;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        KafkaProducer<String, String> first = producer(bootstrap, topic + "-tx");
        first.beginTransaction();
        first.send(new ProducerRecord<>(topic, 0, "k", "committed-1"));
        first.send(new ProducerRecord<>(topic, 0, "k", "committed-2"));
        first.commitTransaction();
        first.beginTransaction();
        first.send(new ProducerRecord<>(topic, 0, "k", "aborted"));
        first.flush();
        first.abortTransaction();
        first.beginTransaction();
        first.send(new ProducerRecord<>(topic, 0, "k", "zombie")).get();
        KafkaProducer<String, String> second = producer(bootstrap, topic + "-tx");  // fences first
        String fenced = "not fenced";
        try {
            first.commitTransaction();
        } catch (ProducerFencedException e) {
            fenced = "fenced";
        } catch (Exception e) {
            fenced = "error " + e.getClass().getSimpleName() + ": " + e.getMessage();
        }
        second.beginTransaction();
        second.send(new ProducerRecord<>(topic, 0, "k", "committed-3"));
        second.commitTransaction();
        second.close();
        System.out.println("first=" + fenced);
        System.out.println("read_committed=" + read(bootstrap, topic, "read_committed"));
        System.out.println("read_uncommitted=" + read(bootstrap, topic, "read_uncommitted"));
    }
}
