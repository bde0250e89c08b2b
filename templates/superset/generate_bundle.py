"""Writes the Superset dashboard bundle templates/superset/shopdata_dashboard/ (Superset's v1
import format). The YAML is generated because charts carry their query context as a JSON string.
Run with any Python that has PyYAML, e.g. .stack/venv-superset/bin/python templates/superset/generate_bundle.py,
then `npx prettier --write templates/superset` (the repo keeps YAML prettier-formatted).
UUIDs are derived from names, so re-running changes only what the code changes."""
import json, uuid, yaml, os, shutil
NS = uuid.UUID('6f1c1a52-6d1e-4c55-9a39-5b7b0c1f2a10')
U = lambda name: str(uuid.uuid5(NS, name))
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'shopdata_dashboard')
shutil.rmtree(root, ignore_errors=True)
for d in ['databases', 'datasets/shopdata_ClickHouse', 'charts', 'dashboards']:
    os.makedirs(f'{root}/{d}', exist_ok=True)
def dump(path, obj, header=None):
    with open(f'{root}/{path}', 'w') as f:
        if header: f.write(header)
        yaml.safe_dump(obj, f, sort_keys=False, allow_unicode=True, width=120)

dump('metadata.yaml', {'version': '1.0.0', 'type': 'Dashboard', 'timestamp': '2026-11-25T00:00:00+00:00'})
db_uuid = U('database')
dump('databases/shopdata_ClickHouse.yaml', {
    'database_name': 'shopdata ClickHouse',
    # The read-only BI user (`shopdata warehouse bi-user`) over ClickHouse's HTTP port.
    'sqlalchemy_uri': 'clickhouse+http://shopdata_bi:XXXXXXXXXX@127.0.0.1:8123/mart',
    # Not in SQL Lab: dashboards read the three marts; free SQL is opted into per deployment.
    'cache_timeout': None, 'expose_in_sqllab': False, 'allow_run_async': False, 'allow_ctas': False,
    'allow_cvas': False, 'allow_dml': False, 'allow_file_upload': False,
    'extra': {'allows_virtual_table_explore': True, 'metadata_params': {}, 'engine_params': {}, 'schemas_allowed_for_file_upload': []},
    'uuid': db_uuid, 'version': '1.0.0'},
    header='# Connection of the shopdata dashboard: the read-only BI user (`shopdata warehouse bi-user`)\n'
           '# over ClickHouse\'s HTTP port with clickhouse-sqlalchemy (works with 18.16). Set host and port here\n'
           '# before zipping, or edit the connection after import; the password is asked for at import.\n'
           '# Not exposed in SQL Lab (expose_in_sqllab: false): the dashboard needs only the mart views.\n')

def col(name, typ, dttm=False):
    return {'column_name': name, 'verbose_name': None, 'is_dttm': dttm, 'is_active': True, 'type': typ,
            'advanced_data_type': None, 'groupby': True, 'filterable': True, 'expression': None,
            'description': None, 'python_date_format': None, 'extra': {}}
def metric(name, expr, label, fmt=None):
    return {'metric_name': name, 'verbose_name': label, 'metric_type': None, 'expression': expr,
            'description': None, 'd3format': fmt, 'extra': {}, 'warning_text': None}
datasets = {
    'daily_orders': ([col('day', 'Date', True), col('orders', 'UInt64'), col('buyers', 'UInt64'), col('units', 'UInt64'),
                      col('gross_revenue', 'Decimal(18, 2)'), col('cancellations', 'UInt64')],
                     [metric('total_revenue', 'SUM(gross_revenue)', 'Revenue', ',.2f'), metric('total_orders', 'SUM(orders)', 'Orders'),
                      metric('total_cancellations', 'SUM(cancellations)', 'Cancellations'),
                      metric('cancellation_rate', 'SUM(cancellations) / SUM(orders)', 'Cancellation rate', '.1%')], 'day'),
    'daily_sales_by_category': ([col('day', 'Date', True), col('category', 'String'), col('orders', 'UInt64'),
                                 col('units', 'UInt64'), col('gross_revenue', 'Decimal(18, 2)')],
                                [metric('total_revenue', 'SUM(gross_revenue)', 'Revenue', ',.2f'), metric('total_units', 'SUM(units)', 'Units')], 'day'),
    'product_ratings': ([col('product_id', 'UInt64'), col('ratings', 'UInt64'), col('avg_stars', 'Float64')],
                        [metric('total_ratings', 'SUM(ratings)', 'Ratings'),
                         metric('weighted_avg_stars', 'SUM(avg_stars * ratings) / SUM(ratings)', 'Average stars', '.2f')], None),
}
for t, (cols, mets, dttm) in datasets.items():
    dump(f'datasets/shopdata_ClickHouse/{t}.yaml', {
        'table_name': t, 'main_dttm_col': dttm, 'description': f'mart.{t} (contract §6)', 'default_endpoint': None,
        'offset': 0, 'cache_timeout': None, 'schema': 'mart', 'sql': None, 'params': None, 'template_params': None,
        'filter_select_enabled': True, 'fetch_values_predicate': None, 'extra': None, 'normalize_columns': False,
        'always_filter_main_dttm': False, 'uuid': U(f'dataset:{t}'), 'metrics': mets, 'columns': cols,
        'version': '1.0.0', 'database_uuid': db_uuid})

def saved(name):
    return {'expressionType': 'SQL', 'sqlExpression': None, 'label': name}  # placeholder, replaced below
def adhoc(col_, agg, label):
    return {'expressionType': 'SIMPLE', 'column': {'column_name': col_}, 'aggregate': agg, 'label': label, 'hasCustomLabel': True}

charts = []
def chart(slug, name, ds, viz, params, query, desc):
    u = U(f'chart:{slug}')
    form = {'datasource': '0__table', 'viz_type': viz, **params}
    qc = {'datasource': {'id': 0, 'type': 'table'}, 'force': False, 'queries': [query], 'form_data': form,
          'result_format': 'json', 'result_type': 'full'}
    dump(f'charts/{slug}.yaml', {'slice_name': name, 'description': desc, 'certified_by': None, 'certification_details': None,
         'viz_type': viz, 'params': form, 'query_context': json.dumps(qc), 'cache_timeout': None,
         'uuid': u, 'version': '1.0.0', 'dataset_uuid': U(f'dataset:{ds}')})
    charts.append((slug, name, u))

# `day` is already a Date: no time grain (Superset's grains use dateTrunc, which ClickHouse 18.16 lacks).
x_day = {'columnType': 'BASE_AXIS', 'sqlExpression': 'day', 'label': 'day', 'expressionType': 'SQL'}
rev = adhoc('gross_revenue', 'SUM', 'Revenue')
def ts_query(metrics, series=None):
    q = {'filters': [{'col': 'day', 'op': 'TEMPORAL_RANGE', 'val': 'No filter'}], 'extras': {'having': '', 'where': ''},
         'applied_time_extras': {}, 'columns': [x_day] + ([series] if series else []), 'metrics': metrics,
         'orderby': [[metrics[0], False]], 'annotation_layers': [], 'row_limit': 10000, 'series_columns': [series] if series else [],
         'series_limit': 0, 'order_desc': True, 'url_params': {}, 'custom_params': {}, 'custom_form_data': {},
         'post_processing': [{'operation': 'pivot', 'options': {'index': ['day'], 'columns': [series] if series else [],
                              'aggregates': {m['label']: {'operator': 'mean'} for m in metrics}, 'drop_missing_columns': False}},
                             {'operation': 'flatten'}]}
    return q
ts_params = {'x_axis': 'day', 'time_grain_sqla': None, 'adhoc_filters': [{'clause': 'WHERE', 'subject': 'day', 'operator': 'TEMPORAL_RANGE', 'comparator': 'No filter', 'expressionType': 'SIMPLE'}],
             'row_limit': 10000, 'show_legend': True, 'rich_tooltip': True, 'y_axis_format': 'SMART_NUMBER', 'color_scheme': 'supersetColors'}
chart('Revenue_by_day', 'Revenue by day', 'daily_orders', 'echarts_timeseries_line',
      {**ts_params, 'metrics': [rev], 'groupby': []}, ts_query([rev]),
      'Gross revenue (Σ qty × unit price) of the purchases of each UTC day.')
chart('Revenue_by_category', 'Revenue by day and category', 'daily_sales_by_category', 'echarts_timeseries_bar',
      {**ts_params, 'metrics': [rev], 'groupby': ['category'], 'stack': 'Stack'}, ts_query([rev], 'category'),
      'An order with items in two categories counts once in each.')
orders = adhoc('orders', 'SUM', 'Orders'); canc = adhoc('cancellations', 'SUM', 'Cancellations')
chart('Orders_and_cancellations', 'Orders and cancellations by day', 'daily_orders', 'echarts_timeseries_line',
      {**ts_params, 'metrics': [orders, canc], 'groupby': []}, ts_query([orders, canc]),
      'Cancellations are counted on the day they happen, not on the day of the order.')
chart('Product_ratings', 'Product ratings', 'product_ratings', 'table',
      {'query_mode': 'raw', 'all_columns': ['product_id', 'ratings', 'avg_stars'], 'order_by_cols': ['["ratings", false]'],
       'row_limit': 100, 'server_pagination': False, 'include_search': True, 'adhoc_filters': []},
      {'filters': [], 'extras': {'having': '', 'where': ''}, 'applied_time_extras': {}, 'columns': ['product_id', 'ratings', 'avg_stars'],
       'orderby': [['ratings', False], ['product_id', True]], 'annotation_layers': [], 'row_limit': 100, 'series_limit': 0, 'order_desc': True,
       'url_params': {}, 'custom_params': {}, 'custom_form_data': {}, 'post_processing': []},
      "Latest rating per user and product; most-rated products first.")

position = {'DASHBOARD_VERSION_KEY': 'v2',
            'ROOT_ID': {'children': ['GRID_ID'], 'id': 'ROOT_ID', 'type': 'ROOT'},
            'GRID_ID': {'children': ['ROW-1', 'ROW-2'], 'id': 'GRID_ID', 'parents': ['ROOT_ID'], 'type': 'GRID'},
            'HEADER_ID': {'id': 'HEADER_ID', 'meta': {'text': 'shopdata — sales'}, 'type': 'HEADER'}}
rows = {'ROW-1': charts[:2], 'ROW-2': charts[2:]}
for r, cs in rows.items():
    position[r] = {'children': [f'CHART-{slug}' for slug, _, _ in cs], 'id': r, 'meta': {'background': 'BACKGROUND_TRANSPARENT'},
                   'parents': ['ROOT_ID', 'GRID_ID'], 'type': 'ROW'}
    for slug, name, u in cs:
        position[f'CHART-{slug}'] = {'children': [], 'id': f'CHART-{slug}', 'meta': {'chartId': charts.index((slug, name, u)) + 1, 'height': 50, 'sliceName': name, 'uuid': u, 'width': 6},
                                     'parents': ['ROOT_ID', 'GRID_ID', r], 'type': 'CHART'}
dump('dashboards/shopdata_sales.yaml', {'dashboard_title': 'shopdata — sales', 'description': None, 'css': '', 'slug': 'shopdata-sales',
     'certified_by': '', 'certification_details': '', 'published': True, 'uuid': U('dashboard'), 'position': position,
     'metadata': {'color_scheme': 'supersetColors', 'refresh_frequency': 0, 'expanded_slices': {}, 'label_colors': {},
                  'timed_refresh_immune_slices': [], 'cross_filters_enabled': True, 'native_filter_configuration': [],
                  'shared_label_colors': [], 'color_scheme_domain': []}, 'version': '1.0.0'})
