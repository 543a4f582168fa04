import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.rmi.server.RMISocketFactory;
import java.util.Arrays;

/**
 * Runs a main class (TLC's distributed server or worker) with Java RMI kept on the loopback
 * interface. TLC has no option for the address its RMI registry and remote objects listen on;
 * by default Java RMI listens on every interface. This wrapper installs a global
 * RMISocketFactory before TLC starts, so every RMI server socket TLC opens (the registry on
 * -Dtlc2.tool.distributed.TLCServer.port, the exported server, workers and fingerprint set) is
 * bound to 127.0.0.1, and RMI connects to loopback addresses only.
 *
 * Used by tla/distributed.sh: java -cp CLASSES:tla2tools.jar LoopbackRMI MAIN-CLASS ARGS...
 */
public final class LoopbackRMI extends RMISocketFactory {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @Override
    public ServerSocket createServerSocket(int port) throws IOException {
        return new ServerSocket(port, 50, LOOPBACK);
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
        InetAddress address = InetAddress.getByName(host);
        if (!address.isLoopbackAddress()) {
            throw new IOException("LoopbackRMI: refusing RMI connection to non-loopback " + host);
        }
        return new Socket(address, port);
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 1) {
            System.err.println("usage: LoopbackRMI MAIN-CLASS [ARGS...]");
            System.exit(2);
        }
        RMISocketFactory.setSocketFactory(new LoopbackRMI());
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            Class.forName(args[0]).getMethod("main", String[].class).invoke(null, (Object) rest);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
