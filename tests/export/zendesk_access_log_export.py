# Zendesk's demo script "Exporting access logs for agents", reconstructed from
# ../shared/reference/access-logs-export-script-article.txt (the article's
# text lost some characters when it was saved; they are restored as the
# Requests/Arrow/csv code plainly reads). Kept as published except:
#   1. the subdomain and credentials come from the environment, and the
#      URLs point at the emulator (ZENDESK_BASE_URL) instead of
#      https://<subdomain>.zendesk.com;                        [marked: EMULATOR]
#   2. with CURSOR_FIX=1, one line clears the cursor the previous agent left
#      in the shared params (as published, agents 2..N start from agent 1's
#      last cursor and miss most of their events).             [marked: FIX]
# Used by tests/export/parity_test.sh and tests/bench/bench_export.sh only.
import json
from csv import writer
from pathlib import Path
from time import sleep
import re
import os

import requests
import arrow

"""Specify your Zendesk subdomain and credentials. In production, use environment variables instead. For security purposes, change your password to '' when you're done."""
ZENDESK_BASE_URL = os.environ['ZENDESK_BASE_URL']  # EMULATOR
ZENDESK_USERNAME = os.environ['ZENDESK_USERNAME']  # EMULATOR
ZENDESK_PASSWORD = os.environ['ZENDESK_PASSWORD']  # EMULATOR


def export_agent_access_logs() -> list:
    """
    Asks the user for a resource (tickets or users) that agents have accessed in the last number of days. Exports the results to a CSV file.
    :return: A list of tickets or users that agents accessed, the agents that accessed them, and when they accessed them
    """

    # -- Ask for the resource and the number of days -------------- #

    while True:
        resource = input('Specify a resource (tickets or users): ')
        if resource in ['users', 'tickets']:
            break
        else:
            print('Not a valid option. Try again.')

    while True:
        days = input('Specify number of days back to look (1 to 90): ')
        if days.isdigit() and 1 <= int(days) <= 90:
            days = int(days)
            break
        print('Not a valid option. Try again.')

    # -- Get agents ----------------------------------------------- #

    print('Getting the agents...')
    agents = []
    api_list_name = 'users'
    url = f'{ZENDESK_BASE_URL}/api/v2/users'  # EMULATOR
    params = {'page[size]': 100}
    users = get_api_list(api_list_name, url, params)
    for user in users:
        if user['role'] == 'agent':
            agents.append(user)

    # -- Get agent access logs ------------------------------------ #

    print('Getting their access logs. One moment, please...')
    agent_access_logs = []
    api_list_name = 'access_logs'
    url = f'{ZENDESK_BASE_URL}/api/v2/access_logs'  # EMULATOR
    end_time = arrow.utcnow()
    filter_end = end_time.format('YYYY-MM-DD[T]HH:mm:ss[Z]')
    start_time = end_time.shift(days=-days)
    filter_start = start_time.format('YYYY-MM-DD[T]HH:mm:ss[Z]')

    params = {
        'filter[start]': filter_start,
        'filter[end]': filter_end,
        'page[size]': 1000
    }
    for agent in agents:
        params['filter[user_id]'] = agent['id']
        if os.environ.get('CURSOR_FIX') == '1': params.pop('page[after]', None)  # FIX
        access_logs = get_api_list(api_list_name, url, params)
        for log in access_logs:
            log['agent_name'] = agent['name']
        agent_access_logs.extend(access_logs)

    # -- Filter the logs by the specified resource ---------------- #

    agent_resource_access_logs = []
    identifiers = {
        'tickets': {'api': '/api/v2/tickets/', 'graphql': 'query ticket'},
        'users': {'api': '/api/v2/users/', 'graphql': 'query user'}
    }
    resource_identifiers = identifiers[resource]
    for log in agent_access_logs:

        # look for the resource in the api request
        if 'api' in resource_identifiers and resource_identifiers['api'] in log['url']:
            match = re.search(r'\d{2,}', log['url'])
            if match:
                log['resource_id'] = match.group()
                agent_resource_access_logs.append(log)

        # look for the resource in the graphql query
        elif 'graphql' in log:
            if 'graphql' in resource_identifiers and resource_identifiers['graphql'] in log['graphql']['query']:
                variables = json.loads(log['graphql']['variables'])
                if 'id' in variables:
                    log['resource_id'] = str(variables['id'])
                agent_resource_access_logs.append(log)

    if not agent_resource_access_logs:
        print(f'Agents did not access any {resource} in the last {days} days.')
        return []

    # -- Create the CSV file -------------------------------------- #

    resource_name = resource[:-1].capitalize()
    rows = [
        (
            f'Agent ID',
            'Agent name',
            f'{resource_name} accessed',
            'Time accessed'
        )
    ]
    for log in agent_resource_access_logs:
        row = (
            log['user_id'],
            log['agent_name'],
            log['resource_id'],
            log['timestamp']
        )
        rows.append(row)

    file_path = Path(f'agent_{resource}_access_logs_{filter_start}-to-{filter_end}.csv')
    with file_path.open(mode='w', newline='') as csv_file:
        report_writer = writer(csv_file, dialect='excel')
        for row in rows:
            report_writer.writerow(row)

    print(f'A CSV file called {file_path} was created in the current folder.\n'
          f'Import it into your favorite spreadsheet application.\n')

    return agent_resource_access_logs


# -- API request function ----------------------------------------- #

def get_api_list(api_list_name, url, params) -> list:
    """
    Makes an API request to a Zendesk list endpoint and returns a list of results
    :param str api_list_name: The name of the list returned by the API. Examples: 'access_logs' or 'users'. See the reference docs for the name
    :param str url: The endpoint url
    :param dict params: Query parameters for the endpoint
    :return: List of resource records
    """
    api_list = []
    auth = ZENDESK_USERNAME, ZENDESK_PASSWORD
    while url:
        response = requests.get(url, params=params, auth=auth)
        if response.status_code == 429:
            if 'retry-after' in response.headers:
                wait_time = int(response.headers['retry-after'])
            else:
                wait_time = 60
            print(f'Rate limited! Please wait. Will restart in {wait_time} seconds.')
            sleep(wait_time)
            response = requests.get(url, params=params, auth=auth)

        if response.status_code != 200:
            print(f'Error -> API responded with status {response.status_code}: {response.text}. Exiting.')
            exit()

        data = response.json()
        api_list.extend(data[api_list_name])
        if data['meta']['has_more']:
            params['page[after]'] = data['meta']['after_cursor']
        else:
            url = ''

    return api_list


if __name__ == '__main__':
    export_agent_access_logs()
