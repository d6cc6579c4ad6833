// Prints the record schemas of Kafka's group coordinator (the generated classes' SCHEMAS, as
// the Kafka jars on the class path define them) as JSON, for tests/kafka/record_schemas.json.
// Run: java -cp "LIBS/*" tests/kafka/DumpRecordSchemas.java
import java.lang.reflect.Field;
import java.util.Map;
import org.apache.kafka.common.protocol.types.ArrayOf;
import org.apache.kafka.common.protocol.types.BoundField;
import org.apache.kafka.common.protocol.types.CompactArrayOf;
import org.apache.kafka.common.protocol.types.Schema;
import org.apache.kafka.common.protocol.types.TaggedFields;
import org.apache.kafka.common.protocol.types.Type;
import org.apache.kafka.coordinator.group.generated.CoordinatorRecordType;

public class DumpRecordSchemas {
    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    @SuppressWarnings("unchecked")
    static String type(Type t) throws Exception {
        if (t instanceof ArrayOf a) {
            return "{\"array\": " + type(a.arrayElementType().get()) + ", \"compact\": false, \"nullable\": " + a.isNullable() + "}";
        }
        if (t instanceof CompactArrayOf a) {
            return "{\"array\": " + type(a.arrayElementType().get()) + ", \"compact\": true, \"nullable\": " + a.isNullable() + "}";
        }
        if (t instanceof Schema s) {
            StringBuilder out = new StringBuilder("{\"struct\": [");
            String sep = "";
            for (BoundField f : s.fields()) {
                out.append(sep).append("{\"name\": ").append(quote(f.def.name)).append(", \"type\": ");
                if (f.def.type instanceof TaggedFields tf) {
                    Field m = TaggedFields.class.getDeclaredField("fields");
                    m.setAccessible(true);
                    Map<Integer, org.apache.kafka.common.protocol.types.Field> tags =
                        (Map<Integer, org.apache.kafka.common.protocol.types.Field>) m.get(tf);
                    out.append("{\"tagged\": {");
                    String tsep = "";
                    for (var e : tags.entrySet()) {
                        out.append(tsep).append(quote(e.getKey().toString())).append(": {\"name\": ")
                            .append(quote(e.getValue().name)).append(", \"type\": ").append(type(e.getValue().type)).append("}");
                        tsep = ", ";
                    }
                    out.append("}}");
                } else {
                    out.append(type(f.def.type));
                }
                out.append("}");
                sep = ", ";
            }
            return out.append("], \"nullable\": ").append(t.isNullable()).append("}").toString();
        }
        return quote(t.toString());
    }

    static String message(Class<?> c) throws Exception {
        Schema[] schemas = (Schema[]) c.getField("SCHEMAS").get(null);
        short low = c.getField("LOWEST_SUPPORTED_VERSION").getShort(null);
        short high = c.getField("HIGHEST_SUPPORTED_VERSION").getShort(null);
        StringBuilder out = new StringBuilder("{\"name\": " + quote(c.getSimpleName()) + ", \"versions\": {");
        for (int v = low; v <= high; v++) {
            out.append(v == low ? "" : ", ").append(quote(Integer.toString(v))).append(": ").append(type(schemas[v]));
        }
        return out.append("}}").toString();
    }

    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder("{");
        String sep = "";
        for (CoordinatorRecordType t : CoordinatorRecordType.values()) {
            out.append(sep).append("\n  ").append(quote(Short.toString(t.id()))).append(": {\"record\": ")
                .append(quote(t.name())).append(", \"key\": ").append(message(t.newRecordKey().getClass()))
                .append(", \"value\": ").append(message(t.newRecordValue().getClass())).append("}");
            sep = ",";
        }
        System.out.println(out.append("\n}"));
    }
}
