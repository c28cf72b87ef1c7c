"""Before spending money: can this account run the journey in a region, on what, at what price?

For each region :func:`region_report` answers from three sources:

* the catalog (vendored): is the Image Classification algorithm published there;
* Service Quotas (``sagemaker``): a quota named ``"ml.g4dn.xlarge for training job usage"`` or
  ``"… for endpoint usage"`` existing in a region means the type is offered there, and its value
  is how many the account may run. New accounts often have 0 for every GPU type. When the
  quotas can't be read (AccessDenied, unreachable), the vendored GPU table stands in, with the
  quotas unknown and a note saying so;
* prices: the Pricing API (only answers in us-east-1), else sagewiz's bundled, dated table.

:func:`all_region_reports` asks every region at once in threads; :func:`request_quota_increase`
files a quota request. Nothing here prints: the notes say in words what the user can do.
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

from sagewiz.core.aws import catalog
from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.backend import InstanceOption, RegionReport
from sagewiz.core.errors import CredentialsError, InputError, NotFoundError, WizardError

SERVICE_CODE = "sagemaker"
PRICING_SERVICE_CODE = "AmazonSageMaker"
PRICING_REGION = "us-east-1"  # the Pricing API answers in us-east-1 (and a few others), for every region

READY, NO_QUOTA, NO_CAPACITY, ALGORITHM_MISSING = "ready", "no quota", "no capacity", "algorithm missing"

# Service Quotas names each SageMaker instance quota "<type> for <usage> usage".
_QUOTA_USAGE = {"training": "training job", "hosting": "endpoint"}
_QUOTA_NAME = re.compile(r"^(ml\.[a-z0-9-]+\.[a-z0-9]+) for (training job|endpoint) usage$")
# The Pricing API's "platoinstancetype" attribute for each usage.
_PRICING_COMPONENT = {"training": "Training", "hosting": "Hosting", "notebook": "Notebook", "transform": "BatchTransform"}

# boto3 creates clients from one Session, which is not thread-safe: one creation at a time.
_client_lock = threading.Lock()


def _client(session: Any, service: str, region: str) -> Any:
    with _client_lock:
        return session.client(service, region=region)


def quota_name(instance_type: str, usage: str = "training") -> str:
    """The Service Quotas name of the quota for ``instance_type`` used for ``usage``."""
    if usage not in _QUOTA_USAGE:
        raise InputError(f"The usage {usage!r} isn't one sagewiz knows.", hint="Use training or hosting.")
    return f"{instance_type} for {_QUOTA_USAGE[usage]} usage"


# ---- Service Quotas ----------------------------------------------------------------------------

def _list_quotas(client: Any, operation: str, region: str) -> list[dict]:
    found: list[dict] = []
    with translated(f"read your SageMaker quotas in {region}"):
        paginator = client.get_paginator(operation)
        for page in paginator.paginate(ServiceCode=SERVICE_CODE, PaginationConfig={"PageSize": 100}):
            found += page.get("Quotas", [])
    return found


def _instance_quotas(quotas: Iterable[dict]) -> dict[str, dict[str, dict]]:
    """usage → instance type → the quota record, for every instance quota the algorithm can use."""
    table: dict[str, dict[str, dict]] = {"training": {}, "hosting": {}}
    for quota in quotas:
        match = _QUOTA_NAME.match(str(quota.get("QuotaName", "")).strip())
        if not match:
            continue
        instance_type, usage = match.group(1), "training" if match.group(2) == "training job" else "hosting"
        wanted = catalog.is_training_type if usage == "training" else catalog.is_hosting_type
        if wanted(instance_type):
            table[usage].setdefault(instance_type, quota)
    return table


def _read_quotas(session: Any, region: str) -> dict[str, dict[str, dict]]:
    """The account's instance quotas in ``region``: the applied values, and the defaults for
    any quota the applied list leaves out (it omits quotas never changed for some accounts)."""
    client = _client(session, "service-quotas", region)
    table = _instance_quotas(_list_quotas(client, "list_service_quotas", region))
    if not table["training"] or not table["hosting"]:
        defaults = _instance_quotas(_list_quotas(client, "list_aws_default_service_quotas", region))
        for usage in table:
            for instance_type, quota in defaults[usage].items():
                table[usage].setdefault(instance_type, quota)
    return table


def _quota_value(quota: dict) -> int | None:
    value = quota.get("Value")
    return None if value is None else int(value)


# ---- prices ------------------------------------------------------------------------------------

def _on_demand_usd(product: dict) -> float | None:
    """The hourly on-demand USD price of one Pricing API product (None when there is none)."""
    for offer in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in offer.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is None or str(dimension.get("unit", "Hrs")).lower() not in ("hrs", "hours", "hour"):
                continue
            try:
                price = float(usd)
            except ValueError:
                continue
            if price > 0:
                return price
    return None


def api_prices(session: Any, region: str, usage: str) -> dict[str, float]:
    """Instance type → on-demand USD/hour for ``usage`` in ``region``, from the Pricing API (one
    paginated query per region and usage). Raises WizardError when it can't be read."""
    client = _client(session, "pricing", PRICING_REGION)
    filters = [{"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
               {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
               {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": _PRICING_COMPONENT[usage]}]
    prices: dict[str, float] = {}
    with translated(f"read SageMaker {usage} prices for {region} from the AWS Pricing API"):
        paginator = client.get_paginator("get_products")
        for page in paginator.paginate(ServiceCode=PRICING_SERVICE_CODE, Filters=filters, FormatVersion="aws_v1",
                                       PaginationConfig={"PageSize": 100}):
            for item in page.get("PriceList", []):
                product = json.loads(item) if isinstance(item, (str, bytes)) else item
                attributes = product.get("product", {}).get("attributes", {})
                name = attributes.get("instanceName") or str(attributes.get("instanceType", "")).split("-")[0]
                price = _on_demand_usd(product)
                if name.startswith("ml.") and price is not None:
                    prices[name] = min(price, prices.get(name, price))
    return prices


def instance_price(session: Any, region: str, instance_type: str, usage: str = "training") -> tuple[float | None, str]:
    """One type's price and where it came from: the Pricing API (filtered by instanceName), else
    the bundled table. Never raises for a price it can't find (returns None)."""
    try:
        client = _client(session, "pricing", PRICING_REGION)
        filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                   {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
                   {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": _PRICING_COMPONENT[usage]}]
        with translated(f"read the price of {instance_type} from the AWS Pricing API"):
            answer = client.get_products(ServiceCode=PRICING_SERVICE_CODE, Filters=filters, MaxResults=10)
        for item in answer.get("PriceList", []):
            price = _on_demand_usd(json.loads(item) if isinstance(item, (str, bytes)) else item)
            if price is not None:
                return price, catalog.PRICE_SOURCE_API
    except CredentialsError:
        raise
    except WizardError:
        pass
    return catalog.bundled_price(region, instance_type, usage), catalog.PRICE_SOURCE_BUNDLED


# ---- one region --------------------------------------------------------------------------------

def _cheapest_usable(options: Iterable[InstanceOption]) -> str | None:
    usable = [option for option in options if option.quota is None or option.quota > 0]
    if not usable:
        return None
    usable.sort(key=lambda o: (o.price_per_hour is None, o.price_per_hour or 0.0, o.gpus, o.instance_type))
    return usable[0].instance_type


def _cheapest(options: Iterable[InstanceOption]) -> str | None:
    ranked = sorted(options, key=lambda o: (o.price_per_hour is None, o.price_per_hour or 0.0, o.instance_type))
    return ranked[0].instance_type if ranked else None


def _money(option: InstanceOption) -> str:
    if option.price_per_hour is None:
        return "price unknown"
    return f"${option.price_per_hour:.3f}/hour ({option.price_source})"


def _few(names: Iterable[str], limit: int = 5) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _missing_report(region: str) -> RegionReport:
    registries = catalog.algorithm_registries()
    same_partition = [name for name in catalog.algorithm_regions() if catalog.partition(name) == catalog.partition(region)]
    suggestions = [name for name in ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
                   if name in same_partition] or same_partition
    return RegionReport(region, False, (), (), ALGORITHM_MISSING, notes=(
        f"The SageMaker Image Classification algorithm isn't published in {region}: choose a region that has it, "
        f"e.g. {_few(suggestions)} ({len(registries)} regions have it; `sagewiz regions` checks them).",))


def region_report(session: Any, region: str, *, use_pricing: bool = True) -> RegionReport:
    """Whether ``region`` can run the journey for this account: the algorithm, the supported
    training and hosting types it offers with the account's quota and price for each, a verdict
    ("ready", "no quota", "no capacity", "algorithm missing"), the cheapest usable choice and
    notes on what to do. Raises CredentialsError (it would fail everywhere); any other trouble
    with Service Quotas or the Pricing API becomes a fallback and a note."""
    if region not in catalog.algorithm_registries():
        return _missing_report(region)
    notes: list[str] = []

    # which types, and how many the account may run
    quotas: dict[str, dict[str, int | None]]
    try:
        found = _read_quotas(session, region)
        quotas = {usage: {name: _quota_value(quota) for name, quota in types.items()} for usage, types in found.items()}
        quotas_known = True
    except CredentialsError:
        raise
    except WizardError as error:
        quotas_known = False
        quotas = {"training": {name: None for name in catalog.training_types(region)},
                  "hosting": {name: None for name in catalog.hosting_types(region)}}
        table_says = (f"the instance types below come from sagewiz's table (sagemaker SDK {catalog.SDK_VERSION}) "
                      "and their quotas are unknown" if quotas["training"]
                      else f"sagewiz's table lists no GPU types for {region} either")
        notes.append(f"Couldn't read your SageMaker quotas in {region} ({error.message.rstrip('.')}), so {table_says}. "
                     "Check them in the Service Quotas console (Amazon SageMaker), or ask your administrator to "
                     "allow servicequotas:ListServiceQuotas.")

    # what each costs
    prices: dict[str, dict[str, tuple[float | None, str]]] = {}
    api_failed: WizardError | None = None
    for usage in ("training", "hosting"):
        from_api: dict[str, float] = {}
        if use_pricing and api_failed is None and quotas[usage]:
            try:
                from_api = api_prices(session, region, usage)
            except CredentialsError:
                raise
            except WizardError as error:
                api_failed = error
        prices[usage] = {name: ((from_api[name], catalog.PRICE_SOURCE_API) if name in from_api
                                else (catalog.bundled_price(region, name, usage), catalog.PRICE_SOURCE_BUNDLED))
                         for name in quotas[usage]}
    if api_failed is not None:
        notes.append(f"Prices come from sagewiz's {catalog.PRICE_SOURCE_BUNDLED} because the AWS Pricing API couldn't be "
                     f"read ({api_failed.message.rstrip('.')}); they are approximate.")
    elif not use_pricing:
        notes.append(f"Prices come from sagewiz's {catalog.PRICE_SOURCE_BUNDLED}; they are approximate.")

    def options(usage: str) -> tuple[InstanceOption, ...]:
        built = []
        for name, quota in quotas[usage].items():
            gpus, memory = catalog.gpu_info(name, region)
            price, source = prices[usage][name]
            built.append(InstanceOption(name, gpus, memory, quota, price, source))
        built.sort(key=lambda o: (o.price_per_hour is None, o.price_per_hour or 0.0, o.instance_type))
        return tuple(built)

    training, hosting = options("training"), options("hosting")
    recommended_training, recommended_hosting = _cheapest_usable(training), _cheapest_usable(hosting)

    if not training:
        verdict = NO_CAPACITY
        notes.append(f"{region} offers none of the GPU types the algorithm trains on "
                     f"({', '.join(f + '.*' for f in catalog.TRAINING_FAMILIES)}): choose another region.")
    elif recommended_training is None:
        verdict = NO_QUOTA
        ask = _cheapest(training)
        notes.append(f"Quota is 0 for every GPU training type here: request an increase "
                     f"(sagewiz regions --request-quota {ask} --region {region}), or choose a region that is ready.")
    else:
        verdict = READY
        chosen = next(o for o in training if o.instance_type == recommended_training)
        if quotas_known:
            notes.append(f"Train on {chosen.instance_type}: the cheapest GPU type you have quota for "
                         f"({chosen.quota} at once), {_money(chosen)}.")
        else:
            notes.append(f"{chosen.instance_type} is the cheapest GPU type here, {_money(chosen)}; "
                         "if a job is refused for quota, request an increase "
                         f"(sagewiz regions --request-quota {chosen.instance_type} --region {region}).")
    if quotas_known and hosting and recommended_hosting is None:
        ask = _cheapest(hosting)
        notes.append(f"Quota is 0 for every endpoint type here: request one "
                     f"(sagewiz regions --request-quota {ask} --usage hosting --region {region}) before deploying.")
    return RegionReport(region, True, training, hosting, verdict, recommended_training=recommended_training,
                        recommended_hosting=recommended_hosting, notes=tuple(notes))


# ---- every region ------------------------------------------------------------------------------

def default_regions(session: Any) -> list[str]:
    """The algorithm's regions in the session's partition (credentials of the commercial
    partition don't work in China or GovCloud, and the reverse)."""
    mine = catalog.partition(session.region)
    return [name for name in catalog.algorithm_regions() if catalog.partition(name) == mine]


def _unchecked(region: str, error: WizardError) -> RegionReport:
    available = region in catalog.algorithm_registries()
    what = error.message.rstrip(".")
    if isinstance(error, CredentialsError):
        hint = ("AWS didn't accept your credentials there: it is probably an opt-in region that isn't enabled for "
                "your account (AWS console → Account → AWS Regions), or choose another region.")
    else:
        hint = error.hint or "Try again later, or choose another region."
    return RegionReport(region, available, (), (), NO_CAPACITY if available else ALGORITHM_MISSING,
                        notes=(f"Couldn't check {region}: {what}. {hint}",))


def all_region_reports(session: Any, regions: Iterable[str] | None = None, *, workers: int = 8,
                       use_pricing: bool = True) -> list[RegionReport]:
    """A report for every region the algorithm is in (in the session's partition), or for the
    given ``regions``, asked in parallel threads, in the order given (sorted by default). A
    region that fails gets a report whose note says why. Raises CredentialsError when there are
    no usable credentials at all."""
    names = list(dict.fromkeys(regions)) if regions else default_regions(session)
    if not names:
        return []
    session.identity  # no credentials, expired ones: fails here once, for every region

    def one(name: str) -> RegionReport | CredentialsError:
        try:
            return region_report(session, name, use_pricing=use_pricing)
        except CredentialsError as error:  # an opt-in region not enabled answers like bad credentials
            return error
        except WizardError as error:
            return _unchecked(name, error)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names))), thread_name_prefix="preflight") as pool:
        answers = list(pool.map(one, names))
    refused = [answer for answer in answers if isinstance(answer, CredentialsError)]
    if refused and len(refused) == len(answers):
        raise refused[0]
    return [_unchecked(name, answer) if isinstance(answer, CredentialsError) else answer
            for name, answer in zip(names, answers)]


# ---- asking for more -----------------------------------------------------------------------------

def find_quota(session: Any, region: str, instance_type: str, usage: str = "training") -> dict:
    """The Service Quotas record (QuotaCode, QuotaName, Value…) of ``instance_type`` for
    ``usage`` in ``region``. Raises NotFoundError when the region has no such quota (the type
    isn't offered there)."""
    wanted = quota_name(instance_type, usage)
    client = _client(session, "service-quotas", region)
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for quota in _list_quotas(client, operation, region):
            if str(quota.get("QuotaName", "")).strip() == wanted:
                return quota
    raise NotFoundError(f"There is no SageMaker quota {wanted!r} in {region}: {instance_type} isn't offered there.",
                        hint="`sagewiz regions` shows the types each region offers.")


def request_quota_increase(session: Any, region: str, instance_type: str, usage: str = "training",
                           desired: int = 1) -> str:
    """Ask AWS to raise the quota of ``instance_type`` for ``usage`` in ``region`` to ``desired``.
    Returns "<request id> (<status>)", e.g. "e8d6… (PENDING)". Raises InputError when the quota
    is already that high or a request is already open, NotFoundError for a type the region
    doesn't offer, and the translated WizardError for anything else."""
    if desired < 1:
        raise InputError(f"A quota of {desired} can't be requested.", hint="Ask for 1 or more.")
    quota = find_quota(session, region, instance_type, usage)
    current = _quota_value(quota)
    if current is not None and current >= desired:
        raise InputError(f"Your quota for {quota['QuotaName']} in {region} is already {current}.",
                         title="No request needed", hint=f"Nothing to request; sagewiz can use {instance_type} there now.")
    client = _client(session, "service-quotas", region)
    try:
        with translated(f"request a higher quota for {quota['QuotaName']} in {region}"):
            answer = client.request_service_quota_increase(ServiceCode=SERVICE_CODE, QuotaCode=quota["QuotaCode"],
                                                           DesiredValue=float(desired))
    except WizardError as error:
        if error_code(error) == "ResourceAlreadyExistsException":
            raise InputError(f"A request to raise {quota['QuotaName']} in {region} is already open.",
                             title="Already requested",
                             hint="Wait for AWS to answer it (Service Quotas console → Quota request history).") from error
        raise
    requested = answer.get("RequestedQuota", {})
    return f"{requested.get('Id', '?')} ({requested.get('Status', 'PENDING')})"
