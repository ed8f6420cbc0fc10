package curate.stack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single OpenSearch 2.19 node on 127.0.0.1 for the local Argilla stack.
 *
 * <p>The engine and the modules Argilla needs (netty4 for HTTP, painless for update scripts,
 * common analysis, reindex for update/delete by query) come from Maven Central and load from the
 * classpath. Argilla sets the index
 * setting {@code index.knn}, which belongs to the k-NN plugin; {@link KnnSettings} registers it
 * (and the one tuning setting Argilla writes) so that Argilla runs unmodified.
 *
 * <p>Usage: {@code java -cp ... curate.stack.EmbeddedOpenSearch HOME HTTP_PORT TRANSPORT_PORT}
 */
public final class EmbeddedOpenSearch {

    /** The k-NN plugin's index settings, registered without the plugin. */
    public static final class KnnSettings extends Plugin {
        @Override
        public List<Setting<?>> getSettings() {
            return List.of(
                Setting.boolSetting("index.knn", false, Setting.Property.IndexScope),
                Setting.intSetting(
                    "index.knn.algo_param.ef_search", 100, 2,
                    Setting.Property.IndexScope, Setting.Property.Dynamic));
        }
    }

    /** Node's constructor that takes classpath plugins is protected. */
    static final class LocalNode extends Node {
        LocalNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private EmbeddedOpenSearch() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: EmbeddedOpenSearch HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));
        Files.createDirectories(home.resolve("config"));
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "curate")
            .put("node.name", "curate-node")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), home.resolve("config"), () -> "curate-node");
        Node node = new LocalNode(
            environment,
            List.of(Netty4Plugin.class, PainlessPlugin.class, CommonAnalysisPlugin.class,
                    ReindexPlugin.class, KnnSettings.class));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (IOException e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }));
        node.start();
        System.out.println("curate opensearch: listening on http://127.0.0.1:" + args[1]);
        stopped.await();
    }
}
