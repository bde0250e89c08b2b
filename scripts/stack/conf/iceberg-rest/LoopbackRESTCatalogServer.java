package org.apache.iceberg.rest;

import java.lang.reflect.Method;
import org.apache.iceberg.util.PropertyUtil;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

/**
 * Apache Iceberg's REST catalog fixture server (iceberg-open-api test fixtures), bound to one
 * address. RESTCatalogServer itself always listens on every interface; the local stack keeps its
 * services on loopback. The backend catalog, its configuration from CATALOG_* variables and the
 * request handling are the fixture's own: this class only puts a Jetty connector with a host in
 * front of them. It lives in the fixture's package to reach its package-private classes.
 *
 * CATALOG_REST_HOST (default 127.0.0.1) is the address; CATALOG_REST_PORT the port, as upstream.
 */
public final class LoopbackRESTCatalogServer {
  private LoopbackRESTCatalogServer() {}

  public static void main(String[] args) throws Exception {
    RESTCatalogServer fixture = new RESTCatalogServer();
    Method init = RESTCatalogServer.class.getDeclaredMethod("initializeBackendCatalog");
    init.setAccessible(true);
    RESTCatalogServer.CatalogContext context = (RESTCatalogServer.CatalogContext) init.invoke(fixture);

    ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    handler.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTServerCatalogAdapter(context))), "/*");
    handler.insertHandler(new GzipHandler());

    Server http = new Server();
    ServerConnector connector = new ServerConnector(http);
    String host = System.getenv("CATALOG_REST_HOST");
    connector.setHost(host == null || host.isEmpty() ? "127.0.0.1" : host);
    connector.setPort(
        PropertyUtil.propertyAsInt(
            context.configuration(), RESTCatalogServer.REST_PORT, RESTCatalogServer.REST_PORT_DEFAULT));
    http.addConnector(connector);
    http.setHandler(handler);
    http.start();
    http.join();
  }
}
