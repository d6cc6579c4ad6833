// Reads __consumer_offsets records with Kafka's own generated classes: one record per stdin line,
// "KEYHEX VALUEHEX" ("-" for a tombstone). For each it prints one line: "ok TYPE KEYJSON VALUEJSON"
// when Kafka's reader consumed key and value to the last byte and writing them back gives the
// same bytes, else "bad TYPE REASON". Run: java -cp "LIBS/*" tests/kafka/ReadRecords.java [share]
// (share: the share coordinator's records, as in __share_group_state)
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.coordinator.group.generated.CoordinatorRecordType;

public class ReadRecords {
    static String json(ApiMessage message, short version) throws Exception {
        Class<?> converter = Class.forName(message.getClass().getName() + "JsonConverter");
        return converter.getMethod("write", message.getClass(), short.class).invoke(null, message, version).toString();
    }

    static byte[] written(ApiMessage message, short version) {
        ByteBuffer buffer = MessageUtil.toVersionPrefixedByteBuffer(version, message);
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    // The key and value messages of a record type, with the type's name.
    static Object[] recordType(boolean share, short type) {
        if (share) {
            var t = org.apache.kafka.coordinator.share.generated.CoordinatorRecordType.fromId(type);
            return new Object[] {t.newRecordKey(), t.newRecordValue(), t.toString()};
        }
        CoordinatorRecordType t = CoordinatorRecordType.fromId(type);
        return new Object[] {t.newRecordKey(), t.newRecordValue(), t.toString()};
    }

    public static void main(String[] args) throws Exception {
        boolean share = args.length > 0 && args[0].equals("share");
        HexFormat hex = HexFormat.of();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String[] parts = line.trim().split(" ");
            byte[] keyBytes = hex.parseHex(parts[0]);
            ByteBuffer key = ByteBuffer.wrap(keyBytes);
            short type = key.getShort();
            try {
                Object[] recordType = recordType(share, type);
                ApiMessage keyMessage = (ApiMessage) recordType[0];
                keyMessage.read(new ByteBufferAccessor(key), (short) 0);
                if (key.hasRemaining()) throw new IllegalStateException(key.remaining() + " key bytes left");
                byte[] keyAgain = written(keyMessage, type);
                if (!Arrays.equals(keyAgain, keyBytes)) throw new IllegalStateException("key written back differs");
                String valueJson = "null";
                if (!parts[1].equals("-")) {
                    byte[] valueBytes = hex.parseHex(parts[1]);
                    ByteBuffer value = ByteBuffer.wrap(valueBytes);
                    short version = value.getShort();
                    ApiMessage valueMessage = (ApiMessage) recordType[1];
                    valueMessage.read(new ByteBufferAccessor(value), version);
                    if (value.hasRemaining()) throw new IllegalStateException(value.remaining() + " value bytes left");
                    if (!Arrays.equals(written(valueMessage, version), valueBytes)) {
                        throw new IllegalStateException("value written back differs");
                    }
                    valueJson = json(valueMessage, version);
                }
                System.out.println("ok " + recordType[2] + " " + json(keyMessage, (short) 0) + " " + valueJson);
            } catch (Exception e) {
                System.out.println("bad " + type + " " + e);
            }
        }
    }
}
