// Runs Kafka's command-line tools (their main classes) one after another in one JVM, so a test can
// run dozens of kafka-topics / kafka-consumer-groups / kafka-configs commands without paying a JVM
// start (seconds on a loaded machine) for each.
//
// Protocol, one command per stdin line, fields separated by tabs: STDIN_FILE ("-" for none),
// MAIN_CLASS, ARGS... For each command it writes "EXIT OUT_BYTES ERR_BYTES\n" then the tool's
// stdout and stderr bytes. Kafka's tools end through Kafka's Exit, whose procedure is replaced by
// one that throws, so an exit ends only the command. Some tools catch Throwable around their own
// exits, so the first exit's code and the output written until then are what the command answers.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.apache.kafka.common.utils.internals.Exit;

public class ToolRunner {
    static final class Exited extends RuntimeException {
        final int code;

        Exited(int code) {
            super("exit " + code, null, false, false);
            this.code = code;
        }
    }

    static Integer firstExit;
    static int outAtExit;
    static int errAtExit;
    static ByteArrayOutputStream out;
    static ByteArrayOutputStream err;

    static void exit(int code) {
        if (firstExit == null) {
            System.out.flush();
            System.err.flush();
            firstExit = code;
            outAtExit = out.size();
            errAtExit = err.size();
        }
        throw new Exited(code);
    }

    public static void main(String[] ignored) throws Exception {
        Exit.setExitProcedure((code, message) -> exit(code));
        Exit.setHaltProcedure((code, message) -> exit(code));
        PrintStream realOut = System.out;
        PrintStream realErr = System.err;
        InputStream realIn = System.in;
        BufferedReader commands = new BufferedReader(new InputStreamReader(realIn, StandardCharsets.UTF_8));
        OutputStream channel = new FileOutputStreamHolder().out;
        String line;
        while ((line = commands.readLine()) != null) {
            String[] fields = line.split("\t", -1);
            out = new ByteArrayOutputStream();
            err = new ByteArrayOutputStream();
            firstExit = null;
            int code = 0;
            InputStream in = fields[0].equals("-") ? InputStream.nullInputStream() : new FileInputStream(fields[0]);
            System.setIn(in);
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            try {
                Class.forName(fields[1])
                    .getMethod("main", String[].class)
                    .invoke(null, (Object) Arrays.copyOfRange(fields, 2, fields.length));
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                while (cause != null && !(cause instanceof Exited)) cause = cause.getCause();
                if (cause instanceof Exited) {
                    code = ((Exited) cause).code;
                } else {
                    e.getCause().printStackTrace(System.err);
                    code = 255;
                }
            } finally {
                System.out.flush();
                System.err.flush();
                System.setOut(realOut);
                System.setErr(realErr);
                System.setIn(realIn);
                in.close();
            }
            byte[] outBytes = out.toByteArray();
            byte[] errBytes = err.toByteArray();
            if (firstExit != null) {
                code = firstExit;
                outBytes = Arrays.copyOf(outBytes, outAtExit);
                errBytes = Arrays.copyOf(errBytes, errAtExit);
            }
            channel.write((code + " " + outBytes.length + " " + errBytes.length + "\n").getBytes(StandardCharsets.UTF_8));
            channel.write(outBytes);
            channel.write(errBytes);
            channel.flush();
        }
    }

    // The real stdout, kept before any tool can replace System.out.
    static final class FileOutputStreamHolder {
        final OutputStream out = new java.io.FileOutputStream(java.io.FileDescriptor.out);
    }
}
