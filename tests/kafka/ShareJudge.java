// Kafka's Java KafkaShareConsumer (kafka-clients 4.4) as a judge of katka's share groups. Run as
// a single-file source program:
//   java -cp <kafka libs> ShareJudge.java BOOTSTRAP TOPIC GROUP COUNT MODE
// MODE accept: explicit mode, accept every record; release-first: release each record the first
// time it is delivered and accept it the second time. Prints "record OFFSET VALUE DELIVERY_COUNT"
// per record and exits once COUNT records were accepted.
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ShareJudge {
    public static void main(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("group.id", args[2]);
        p.put("share.acknowledgement.mode", "explicit");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        int wanted = Integer.parseInt(args[3]);
        boolean releaseFirst = args[4].equals("release-first");
        int accepted = 0;
        long deadline = System.currentTimeMillis() + 60_000;
        try (KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(p)) {
            consumer.subscribe(List.of(args[1]));
            while (accepted < wanted && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    int count = record.deliveryCount().orElse((short) -1);
                    System.out.println("record " + record.offset() + " " + record.value() + " " + count);
                    if (releaseFirst && count == 1) {
                        consumer.acknowledge(record, AcknowledgeType.RELEASE);
                    } else {
                        consumer.acknowledge(record, AcknowledgeType.ACCEPT);
                        accepted++;
                    }
                }
                consumer.commitSync();
            }
        }
        System.out.flush();
        System.exit(accepted == wanted ? 0 : 1);
    }
}
