// Prints Kafka's broker config definitions (KafkaConfig) and topic config definitions
// (LogConfig), one per line: scope, name, type, default as Kafka writes it, validator.
// Tab-separated; "<none>" marks a config without a default, "<null>" a null default.
// Run: java -cp "LIBS/*" tests/kafka/DumpConfigDefs.java
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.config.ConfigDef;

public class DumpConfigDefs {
    static void print(String scope, ConfigDef definitions) {
        for (ConfigDef.ConfigKey key : new TreeMap<>(definitions.configKeys()).values()) {
            String value;
            if (!key.hasDefault()) {
                value = "<none>";
            } else if (key.defaultValue == null) {
                value = "<null>";
            } else {
                value = ConfigDef.convertToString(key.defaultValue, key.type);
            }
            String validator = key.validator == null ? "" : key.validator.toString();
            System.out.println(String.join("\t", scope, key.name, key.type.name(), value, validator));
        }
    }

    public static void main(String[] args) {
        print("broker", kafka.server.KafkaConfig.configDef());
        print("topic", org.apache.kafka.storage.internals.log.LogConfig.configDefCopy());
    }
}
