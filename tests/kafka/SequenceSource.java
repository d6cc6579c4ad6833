// A Kafka Connect 4.4 source connector as a judge of katka's compacted topics: one task writes
// 0, 1, 2, ... to a topic, recording each number as its source offset, and resumes after the
// last offset Connect stored (in the worker's compacted offset topic) when it starts again.
// Compiled with javac onto a distributed worker's classpath (no connector ships in Maven Central).
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

public class SequenceSource extends SourceConnector {
    private Map<String, String> config;

    @Override public String version() { return "1"; }
    @Override public void start(Map<String, String> props) { config = props; }
    @Override public Class<? extends Task> taskClass() { return SequenceTask.class; }
    @Override public List<Map<String, String>> taskConfigs(int maxTasks) { return List.of(config); }
    @Override public void stop() {}
    @Override public ConfigDef config() {
        return new ConfigDef().define("topic", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "where to write");
    }

    public static class SequenceTask extends SourceTask {
        private static final Map<String, String> PARTITION = Map.of("sequence", "0");
        private String topic;
        private long next;

        @Override public String version() { return "1"; }

        @Override public void start(Map<String, String> props) {
            topic = props.get("topic");
            Map<String, Object> stored = context.offsetStorageReader().offset(PARTITION);
            next = stored == null ? 0 : ((Number) stored.get("seqno")).longValue() + 1;
        }

        @Override public List<SourceRecord> poll() throws InterruptedException {
            Thread.sleep(20);
            long seqno = next++;
            return List.of(new SourceRecord(PARTITION, Map.of("seqno", seqno), topic, 0,
                Schema.STRING_SCHEMA, Long.toString(seqno)));
        }

        @Override public void stop() {}
    }
}
