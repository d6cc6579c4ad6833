// Prints Kafka's broker config definitions (KafkaConfig) and topic config definitions
// (LogConfig), one per line: scope, name, type, default as Kafka writes it, validator.
// Tab-separated; "<none>" marks a config without a default, "<null>" a null default.
// The authorizer's two configs (super.users, allow.everyone.if.no.acl.found) are in no ConfigDef:
// StandardAuthorizer reads them from the broker's properties itself; their lines (scope broker)
// carry what it makes of an absent value, asked of its own (package-private) readers.
// The dynamic-only broker configs (DynamicConfig.Broker: the replication throttles) are printed
// with the broker's.
// Run: java -cp "LIBS/*" tests/kafka/DumpConfigDefs.java
import java.lang.reflect.Method;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.config.ConfigDef;

public class DumpConfigDefs {
    static void print(String scope, ConfigDef definitions) {
        print(scope, definitions.configKeys());
    }

    static void print(String scope, Map<String, ConfigDef.ConfigKey> keys) {
        for (ConfigDef.ConfigKey key : new TreeMap<>(keys).values()) {
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

    static Object askAuthorizer(String reader) throws Exception {
        Class<?> authorizer = org.apache.kafka.metadata.authorizer.StandardAuthorizer.class;
        Method method = authorizer.getDeclaredMethod(reader, Map.class);
        method.setAccessible(true);
        return method.invoke(null, Map.of());
    }

    static void printAuthorizerConfigs() throws Exception {
        Object superUsers = askAuthorizer("getConfiguredSuperUsers");
        String noSuperUsers = ((java.util.Set<?>) superUsers).isEmpty() ? "<null>" : superUsers.toString();
        System.out.println(String.join("\t", "broker",
            org.apache.kafka.metadata.authorizer.StandardAuthorizer.SUPER_USERS_CONFIG,
            "STRING", noSuperUsers, ""));
        Object result = askAuthorizer("getDefaultResult");
        String allowed = String.valueOf(
            result == org.apache.kafka.server.authorizer.AuthorizationResult.ALLOWED);
        System.out.println(String.join("\t", "broker",
            org.apache.kafka.metadata.authorizer.StandardAuthorizer.ALLOW_EVERYONE_IF_NO_ACL_IS_FOUND_CONFIG,
            "BOOLEAN", allowed, ""));
    }

    public static void main(String[] args) throws Exception {
        ConfigDef broker = kafka.server.KafkaConfig.configDef();
        print("broker", broker);
        Map<String, ConfigDef.ConfigKey> dynamicOnly =
            new TreeMap<>(org.apache.kafka.server.config.DynamicConfig.Broker.configKeys());
        dynamicOnly.keySet().removeAll(broker.configKeys().keySet());
        print("broker", dynamicOnly);
        printAuthorizerConfigs();
        print("topic", org.apache.kafka.storage.internals.log.LogConfig.configDefCopy());
    }
}
